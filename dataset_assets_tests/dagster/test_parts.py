"""`sharded_artifact_assets`: the parts asset (one partition per part) and the commit asset with its checks, run
in process: the committed artifact equals the parts' sources concatenated, downstream assets load it through the
IO manager, its data version is its fingerprint, and a commit before every part is written fails naming the part."""

import numpy as np
import pytest
import tensorflow as tf
from dagster import AssetIn, AssetKey, DagsterInstance, asset, materialize

import dataset_assets as da
from dataset_assets.dagster import io_managers, sharded_artifact_assets
from dataset_assets.parts import split
from dataset_assets_tests.helpers import assert_same_elements

FILES = [f"file-{i:02d}" for i in range(10)]  # stands for a team's input files: each part reads its own slice


def read_part(part: int, num_parts: int) -> tf.data.Dataset:
    mine = split(FILES, part, num_parts)
    return tf.data.Dataset.from_tensor_slices({"name": tf.constant(mine, tf.string, shape=[len(mine)]), "size": np.array([len(f) * 7 for f in mine], np.int64)})


def whole() -> tf.data.Dataset:
    return read_part(0, 1)


@pytest.fixture
def graph(tmp_path):
    events = sharded_artifact_assets("events", read_part, 3, key_prefix=["team"])
    received = []

    @asset(key=["team", "names"], ins={"events": AssetIn(key=["team", "events"])})
    def names(events: tf.data.Dataset) -> tf.data.Dataset:
        received.extend(e["name"] for e in events.as_numpy_iterator())
        return events.map(lambda e: {"name": e["name"]})

    resources = {**io_managers(str(tmp_path), formats=["tfrecord"]), "io_manager": io_managers(str(tmp_path), formats=["npy"])["npy_io_manager"]}
    return events, names, resources, received, DagsterInstance.ephemeral()


def test_parts_then_commit_give_the_artifact_of_the_whole_source(graph, tmp_path):
    events, names, resources, received, instance = graph
    defs = [*events.assets, *events.checks, names]
    parts_key = AssetKey(["team", "events_parts"])
    for key in ("part-00002-of-00003", "part-00000-of-00003", "part-00001-of-00003"):  # runs in any order
        result = materialize(defs, selection=[parts_key], partition_key=key, resources=resources, instance=instance)
        (m,) = result.asset_materializations_for_node("team__events_parts")
        assert m.partition == key and m.metadata["part"].value == int(key[5:10])
    result = materialize(defs, selection=[AssetKey(["team", "events"]), AssetKey(["team", "names"])], resources=resources, instance=instance)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"round_trip": True, "integrity": True}

    path = tmp_path / "team" / "events"
    manifest = da.read_manifest(path)
    assert manifest.fingerprint == da.fingerprint(whole()) and len(manifest.details["parts"]) == 3
    (m,) = result.asset_materializations_for_node("team__events")
    assert m.metadata["fingerprint"].value == manifest.fingerprint and m.metadata["num_parts"].value == 3
    record = instance.get_latest_materialization_event(AssetKey(["team", "events"]))
    assert record.asset_materialization.tags["dagster/data_version"] == manifest.fingerprint
    assert received == [f.encode() for f in FILES]  # the downstream asset got the whole artifact, in part order
    assert_same_elements(da.load(path), whole())


def test_a_commit_before_the_last_part_fails_and_names_it(graph):
    events, _, resources, _, instance = graph
    defs = [*events.assets, *events.checks]
    materialize(defs, selection=[AssetKey(["team", "events_parts"])], partition_key="part-00000-of-00003", resources=resources, instance=instance)
    result = materialize(defs, selection=[AssetKey(["team", "events"])], resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "lacks part(s) 1, 2 of 3" in str(failure.event_specific_data.error)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"format": "npy"}, "cannot be written in parts; choose one of tfrecord"),
        ({"num_parts": 0}, "num_parts=0"),
        ({"source": "files"}, "source must be a function"),
    ],
)
def test_the_factory_refuses_what_cannot_work(kwargs, message):
    args = {"name": "events", "source": read_part, "num_parts": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        sharded_artifact_assets(**args)


def test_split_gives_contiguous_balanced_slices_that_make_the_whole():
    items = list(range(11))
    slices = [split(items, i, 4) for i in range(4)]
    assert sum(slices, []) == items
    assert sorted(len(s) for s in slices) == [2, 3, 3, 3]
    assert split(items, 0, 20) == []  # more parts than items: some are empty
    with pytest.raises(TypeError, match="takes a sequence"):
        split(iter(items), 0, 2)  # a generator or a set has no order to cut by
