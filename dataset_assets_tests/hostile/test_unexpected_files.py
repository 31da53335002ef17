"""A file added inside a version, which the manifest does not list: `verify` reports it by name in every
format; `load` never reads it (tfdata, whose snapshot reader would pick up any shard file, refuses it)."""

import pytest

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements, version_dir
from dataset_assets_tests.hostile.conftest import images


def _data_folder(path):
    """The deepest folder holding data files (the snapshot run folder for tfdata, images/ for pathlist)."""
    deepest = max((f.path for f in da.read_manifest(path).files), key=lambda p: p.count("/"))
    return (version_dir(path) / deepest).parent


@pytest.mark.parametrize("where", ["top", "beside_data"])
def test_extra_file_is_reported(artifact, where):
    path, fmt = artifact
    folder = version_dir(path) if where == "top" else _data_folder(path)
    extra = folder / "extra.bin"
    extra.write_bytes(b"not part of the artifact")
    report = da.verify(path)
    assert not report.ok and any(str(extra) in p and "does not list" in p for p in report.problems), report.problems
    if fmt == "tfdata" and where == "beside_data":
        with pytest.raises(da.ArtifactError, match="does not list"):
            da.load(path)
    else:
        assert_same_elements(da.load(path), images())  # never opened: the data read is the listed files only


def test_extra_shard_file_in_a_tfdata_snapshot_is_refused(tmp_path):
    path = tmp_path / "art"
    da.save(images(), path, format="tfdata")
    shard = next(version_dir(path).rglob("*.snapshot"))
    (shard.parent / "00000001.snapshot").write_bytes(shard.read_bytes())  # more data for TF to find
    with pytest.raises(da.ArtifactError, match="00000001.snapshot"):
        da.load(path)
    assert not da.verify(path).ok
