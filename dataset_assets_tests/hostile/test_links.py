"""Nothing is read from outside an artifact: symbolic links in any format, HDF5 external links, virtual
datasets and external storage are refused by `load` and reported by `verify`, naming the file."""

import os
import shutil

import h5py
import numpy as np
import pytest

import dataset_assets as da
from dataset_assets.storage.checksums import digest_file
from dataset_assets_tests.helpers import rewrite_manifest, version_dir
from dataset_assets_tests.hostile.conftest import images


def _refresh_entry(path, rel):
    """Make the manifest match the file now at `rel` (size and checksums), as an attacker would."""
    d = digest_file(version_dir(path) / rel)

    def edit(doc):
        for f in doc["files"]:
            if f["path"] == rel:
                f.update(bytes=d.bytes, sha256=d.sha256, crc32c=d.crc32c)

    rewrite_manifest(path, edit)


def _assert_refused(path, victim, words):
    report = da.verify(path)
    assert not report.ok and any(str(victim) in p and words in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=words):
        list(da.load(path))


def test_data_file_symlinked_outside_is_refused(artifact, tmp_path):
    path, _ = artifact
    manifest = da.read_manifest(path)
    victim = version_dir(path) / max(manifest.files, key=lambda f: f.bytes).path
    outside = tmp_path / "outside.bin"
    shutil.copy(victim, outside)  # identical bytes: only the link itself is wrong
    victim.unlink()
    victim.symlink_to(outside)
    _assert_refused(path, victim, "symbolic link")


def test_folder_symlinked_outside_is_refused(artifact, tmp_path):
    path, _ = artifact
    manifest = da.read_manifest(path)
    nested = [f.path for f in manifest.files if "/" in f.path]
    top = version_dir(path) / (nested[0].split("/")[0] if nested else "")
    if not nested:  # flat formats: link the whole version folder away instead
        top = version_dir(path)
    outside = tmp_path / "outside"
    shutil.copytree(top, outside)
    shutil.rmtree(top)
    top.symlink_to(outside, target_is_directory=True)
    with pytest.raises(da.ArtifactError, match="symbolic link"):
        list(da.load(path))
    report = da.verify(path)
    assert not report.ok and any(str(top) in p and "symbolic link" in p for p in report.problems), report.problems


def _hdf5(tmp_path):
    path = tmp_path / "h5art"
    da.save(images(), path, format="hdf5")
    return path, version_dir(path) / "data.h5"


def _replace_stream(h5, name, make):
    with h5py.File(h5, "a") as f:
        data = f[name][...]
        del f[name]
        make(f, name, data)


@pytest.mark.parametrize("kind", ["external_link", "virtual_dataset", "external_storage"])
def test_hdf5_reference_to_another_file_is_refused(tmp_path, kind):
    path, h5 = _hdf5(tmp_path)
    outside = tmp_path / "outside.h5"
    raw = tmp_path / "outside.raw"
    with h5py.File(h5, "r") as f:
        name = next(n for n in f if "image" in n)  # the image stream

    def make(f, name, data):
        if kind == "external_link":
            with h5py.File(outside, "w") as o:
                o[name] = data
            f[name] = h5py.ExternalLink(str(outside), name)
        elif kind == "virtual_dataset":
            with h5py.File(outside, "w") as o:
                o[name] = data
            layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
            layout[...] = h5py.VirtualSource(str(outside), name, shape=data.shape)
            f.create_virtual_dataset(name, layout)
        else:
            raw.write_bytes(np.ascontiguousarray(data).tobytes())
            f.create_dataset(name, shape=data.shape, dtype=data.dtype, external=[(str(raw), 0, data.nbytes)])

    _replace_stream(h5, name, make)
    _refresh_entry(path, "data.h5")
    words = {"external_link": "ExternalLink", "virtual_dataset": "virtual dataset", "external_storage": "external files"}[kind]
    report = da.verify(path)
    assert not report.ok and any(str(h5) in p and words in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=words):
        list(da.load(path))
    with pytest.raises(da.ArtifactError, match=words):
        list(da.load(path, checked=False))


def test_intact_hdf5_still_loads(tmp_path):
    path, _ = _hdf5(tmp_path)
    assert da.verify(path, images()).ok
    assert len(list(da.load(path))) == 20


def test_special_file_in_the_version_is_refused(artifact):
    path, _ = artifact
    fifo = version_dir(path) / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(da.ArtifactError, match="not a plain file"):
        da.load(path)
    report = da.verify(path)
    assert not report.ok and any(str(fifo) in p for p in report.problems), report.problems
