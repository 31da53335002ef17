"""DatasetIOManager with static and multi-partitions and prefixed keys: one artifact per partition, several read as one."""

import numpy as np
import tensorflow as tf
from dagster import (
    AssetIn,
    AssetKey,
    DagsterInstance,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

import dataset_assets as da
from dataset_assets.dagster import INTERLEAVE, NpyIOManager, TFRecordIOManager, artifact_assets, integrity_check
from dataset_assets_tests.helpers import assert_same_elements

REGIONS = StaticPartitionsDefinition(["eu", "us", "asia"])  # not alphabetical: inputs follow the definition's order
START = {"eu": 0, "us": 100, "asia": 200}


def rows(region: str, n: int = 3) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices({"x": np.arange(START[region], START[region] + n, dtype=np.int64)})


@asset(key=["team", "events"], partitions_def=REGIONS)
def events(context) -> tf.data.Dataset:
    return rows(context.partition_key)


@asset(ins={"all_regions": AssetIn(key=["team", "events"])})
def merged(all_regions: tf.data.Dataset) -> tf.data.Dataset:
    return all_regions


@asset(ins={"all_regions": AssetIn(key=["team", "events"], metadata={INTERLEAVE: True})})
def mixed(all_regions: tf.data.Dataset) -> tf.data.Dataset:
    return all_regions


@asset(ins={"all_regions": AssetIn(key=["team", "events"])})
def by_region(all_regions: dict[str, tf.data.Dataset]) -> tf.data.Dataset:
    assert list(all_regions) == ["eu", "us", "asia"]  # a dict annotation gets the partitions by key
    return all_regions["us"]


def test_static_partitions_of_a_prefixed_key_are_artifacts_read_as_one_dataset(tmp_path):
    resources = {"io_manager": NpyIOManager(base_dir=str(tmp_path))}
    instance = DagsterInstance.ephemeral()
    check = integrity_check(events)
    for region in REGIONS.get_partition_keys():
        result = materialize([events, check], partition_key=region, resources=resources, instance=instance)
        assert [(e.partition, e.passed) for e in result.get_asset_check_evaluations()] == [(region, True)]
    assert sorted(p.name for p in (tmp_path / "team" / "events").iterdir()) == ["asia", "eu", "us"]
    result = materialize([events, merged, mixed, by_region], selection=[merged, mixed, by_region], resources=resources, instance=instance)
    assert result.success
    assert [int(e["x"]) for e in da.load(tmp_path / "merged").as_numpy_iterator()] == [0, 1, 2, 100, 101, 102, 200, 201, 202]
    assert [int(e["x"]) for e in da.load(tmp_path / "mixed").as_numpy_iterator()] == [0, 100, 200, 1, 101, 201, 2, 102, 202]
    assert_same_elements(da.load(tmp_path / "by_region"), rows("us"))
    # from training code: the prefixed key, one partition, or all (sorted by key, as load_asset knows no partitions definition)
    assert_same_elements(da.load_asset("team/events", verified=False, partition="us", base_dir=tmp_path), rows("us"))
    assert_same_elements(da.load_asset(["team", "events"], verified=False, base_dir=tmp_path), rows("asia").concatenate(rows("eu")).concatenate(rows("us")))


MULTI = MultiPartitionsDefinition({"region": StaticPartitionsDefinition(["eu", "us"]), "day": StaticPartitionsDefinition(["d1", "d2"])})


@asset(partitions_def=MULTI)
def grid(context) -> tf.data.Dataset:
    key = context.partition_key.keys_by_dimension
    return rows(key["region"], n=2 if key["day"] == "d1" else 4)


def test_multi_partitions_nest_one_folder_per_dimension_with_a_check_per_partition(tmp_path):
    resources = {"tfrecord_io_manager": TFRecordIOManager(base_dir=str(tmp_path)), "io_manager": NpyIOManager(base_dir=str(tmp_path))}
    made = artifact_assets(grid, ["tfrecord"])
    instance = DagsterInstance.ephemeral()
    key = MultiPartitionKey({"region": "us", "day": "d2"})
    result = materialize([grid, *made.assets, *made.checks], partition_key=key, resources=resources, instance=instance)
    assert result.success
    assert {(e.check_name, e.partition, e.passed) for e in result.get_asset_check_evaluations()} == {
        ("round_trip", "d2|us", True), ("integrity", "d2|us", True)}
    # dimensions in name order: day, then region
    assert_same_elements(da.load_asset("grid_tfrecord", partition="d2/us", base_dir=tmp_path), rows("us", 4))
    assert da.read_manifest(tmp_path / "grid" / "d2" / "us").format == "npy"
    assert da.read_manifest(tmp_path / "grid_tfrecord" / "d2" / "us").format == "tfrecord"
    assert made.assets[0].key == AssetKey("grid_tfrecord") and made.assets[0].partitions_def == MULTI
