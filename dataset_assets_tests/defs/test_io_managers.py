"""DatasetIOManager in real runs: artifact directories, atomic replacement, metadata, data version, refusals."""

import numpy as np
import tensorflow as tf
from dagster import AssetIn, DagsterInstance, asset, materialize

import dataset_assets as da
from dataset_assets.dagster import IO_MANAGERS, DatasetIOManager, Hdf5IOManager, element_spec_schema, preview_markdown
from dataset_assets_tests.helpers import assert_same_elements

from .conftest import failures

SCALE = {"value": 1}


def sample() -> tf.data.Dataset:
    tokens = tf.ragged.constant([[1, 2], [], [3, 4, 5]], dtype=tf.int32)
    return tf.data.Dataset.from_tensor_slices(
        {"x": np.arange(6, dtype=np.float32).reshape(3, 2) * SCALE["value"], "meta": {"name": [b"a|b", b"", b"\xff"], "tokens": tokens}}
    )


@asset(io_manager_key="store")
def written() -> tf.data.Dataset:
    return sample()


@asset(ins={"upstream": AssetIn("written")}, io_manager_key="store")
def reread(upstream: tf.data.Dataset) -> tf.data.Dataset:
    assert_same_elements(upstream, sample())  # the input came back from disk identical
    return upstream.take(2)


def run(tmp_path, manager, *assets, instance=None):
    return materialize(list(assets) or [written, reread], resources={"store": manager}, instance=instance or DagsterInstance.ephemeral(), raise_on_error=False)


def test_outputs_are_artifacts_with_metadata_and_the_fingerprint_as_data_version(tmp_path):
    manager = DatasetIOManager(format="hdf5", format_options={"compression": "gzip"}, base_dir=str(tmp_path))
    result = run(tmp_path, manager)
    assert result.success, failures(result)
    manifest = da.read_manifest(tmp_path / "written")
    assert manifest.format == "hdf5" and manifest.options["compression"] == "gzip" and manifest.num_elements == 3
    assert da.read_manifest(tmp_path / "reread").num_elements == 2
    (mat,) = result.asset_materializations_for_node("written")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["path"] == str(tmp_path / "written") and meta["format"] == "hdf5"
    assert meta["fingerprint"] == manifest.fingerprint == mat.tags["dagster/data_version"]
    assert meta["bytes_on_disk"] == manifest.total_bytes and meta["num_elements"] == 3
    assert meta["write_seconds"] > 0 and meta["megabytes_per_second"] >= 0
    assert [c.name for c in meta["dagster/column_schema"].columns] == ["meta/name", "meta/tokens", "x"]


def test_rematerializing_replaces_the_artifact_and_changes_the_version_only_with_the_data(tmp_path):
    manager, instance = DatasetIOManager(format="npy", base_dir=str(tmp_path)), DagsterInstance.ephemeral()
    versions = []
    for scale in (1, 1, 2):
        SCALE["value"] = scale
        try:
            result = run(tmp_path, manager, written, instance=instance)
        finally:
            SCALE["value"] = 1
        assert result.success, failures(result)
        versions.append(result.asset_materializations_for_node("written")[0].tags["dagster/data_version"])
    assert versions[0] == versions[1] != versions[2]
    assert da.read_manifest(tmp_path / "written").fingerprint == versions[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["written"]  # no staging or old copies left behind


def test_refusals_fail_the_step_with_a_clear_message(tmp_path):
    @asset(io_manager_key="store")
    def not_a_dataset():
        return [1, 2, 3]

    result = run(tmp_path, DatasetIOManager(format="npy", base_dir=str(tmp_path)), not_a_dataset)
    assert "asset not_a_dataset returned a list; DatasetIOManager stores tf.data.Dataset values only" in "\n".join(failures(result))
    result = run(tmp_path, DatasetIOManager(format="parquet", base_dir=str(tmp_path)), written)
    assert "format 'parquet' is unknown; choose one of npy, hdf5, pathlist, tfrecord, tfdata" in "\n".join(failures(result))
    result = run(tmp_path, DatasetIOManager(format="pathlist", base_dir=str(tmp_path)), written)
    assert not result.success and not (tmp_path / "written").exists()  # refused before anything was written


def test_schema_and_preview_describe_the_elements():
    schema = {c.name: (c.type, c.description) for c in element_spec_schema(sample().element_spec).columns}
    assert schema == {
        "meta/name": ("string", None),
        "meta/tokens": ("int32[None]", "ragged (ragged_rank 0)"),
        "x": ("float32[2]", None),
    }
    lines = preview_markdown(sample(), rows=2).splitlines()
    assert lines[0] == "| # | meta/name | meta/tokens | x |"
    assert lines[2] == "| 0 | a\\|b | int32[2] [1, 2] | float32[2] [0, 1] |"
    assert len(lines) == 4


def test_format_options_and_base_dir_can_be_set_per_run(tmp_path):
    manager = Hdf5IOManager(base_dir=str(tmp_path / "bound"))
    config = {"resources": {"store": {"config": {"format_options": {"compression": "lzf"}, "base_dir": str(tmp_path / "run")}}}}
    result = materialize([written], resources={"store": manager}, run_config=config, instance=DagsterInstance.ephemeral())
    assert result.success
    manifest = da.read_manifest(tmp_path / "run" / "written")
    assert manifest.format == "hdf5" and manifest.options["compression"] == "lzf"
    assert not (tmp_path / "bound").exists()


def test_each_format_has_its_io_manager_class():
    assert {fmt: cls().format for fmt, cls in IO_MANAGERS.items()} == {f: f for f in da.FORMATS}
