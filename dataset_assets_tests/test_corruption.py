"""A flipped byte, a truncated file, a missing file: reported with the file named, in every format."""

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.helpers import version_dir


def _images():
    rng = np.random.default_rng(0)
    return tf.data.Dataset.from_tensor_slices({"image": rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8), "label": np.arange(20)})


@pytest.fixture(params=da.FORMATS)
def artifact(request, tmp_path):
    da.save(_images(), tmp_path / "art", format=request.param)
    manifest = da.read_manifest(tmp_path / "art")
    biggest = max(manifest.files, key=lambda f: f.bytes)
    return tmp_path / "art", version_dir(tmp_path / "art") / biggest.path


def test_flipped_byte_is_reported(artifact):
    path, victim = artifact
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    report = da.verify(path)
    assert not report.ok
    assert any(str(victim) in p and "checksum" in p for p in report.problems), report.problems


def test_truncated_file_is_reported_and_refused(artifact):
    path, victim = artifact
    victim.write_bytes(victim.read_bytes()[:-7])
    report = da.verify(path)
    assert not report.ok and any(str(victim) in p for p in report.problems)
    with pytest.raises(da.ArtifactError, match=str(victim)):
        da.load(path)


def test_missing_file_is_reported_and_refused(artifact):
    path, victim = artifact
    victim.unlink()
    report = da.verify(path)
    assert not report.ok and any(str(victim) in p and "missing" in p for p in report.problems)
    with pytest.raises(da.ArtifactError, match=str(victim)):
        da.load(path)


def test_intact_artifact_verifies(artifact):
    path, _ = artifact
    report = da.verify(path, _images())
    assert report.ok, report.problems


def test_npy_file_of_another_dtype_is_refused(tmp_path):
    # same size, valid .npy, wrong dtype: a swapped file must not be read as the spec's numbers
    da.save(tf.data.Dataset.from_tensor_slices(np.arange(8, dtype=np.float32)), tmp_path / "art", format="npy")
    victim = next(version_dir(tmp_path / "art").glob("*.values.npy"))
    victim.write_bytes(victim.read_bytes().replace(b"'<f4'", b"'<i4'", 1))
    manifest = da.read_manifest(tmp_path / "art")
    entry = next(f for f in manifest.files if f.path == victim.name)
    assert victim.stat().st_size == entry.bytes  # only the header's dtype differs
    with pytest.raises(da.ArtifactError, match="do not match the checksum"):
        da.load(tmp_path / "art")  # the block checksum sees the change first
    with pytest.raises(da.ArtifactError, match="int32"):
        da.load(tmp_path / "art", checked=False)  # and without it, the header's dtype is still refused
