"""Artifact paths with glob characters: every format (tfdata included) saves, loads and verifies there, and the
clean-up of abandoned versions matches exact names only (an artifact `a*` never touches `ab`)."""

import gc
import json
import tempfile
import time

import pytest

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.hostile.conftest import images

NAMES = ["x[1]", "a*b", "what?", "p,q", "[x]*?,y"]


@pytest.mark.parametrize("name", NAMES)
def test_every_format_works_at_a_path_with_glob_characters(tmp_path, fmt, name):
    path = tmp_path / name / "art"
    da.save(images(), path, format=fmt)
    assert_same_elements(da.load(path), images())
    report = da.verify(path, images())
    assert report.ok, report.problems
    da.save(images(30, seed=1), path, format=fmt, overwrite=True)  # a second version beside the first
    assert_same_elements(da.load(path), images(30, seed=1))


def test_a_tfdata_snapshot_at_a_glob_path_is_read_through_a_link_that_goes_with_its_dataset(tmp_path, monkeypatch):
    aliases = tmp_path / "tmp"
    aliases.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(aliases))  # where the links are made
    path = tmp_path / "run[1]" / "art"
    da.save(images(), path, format="tfdata")
    for _ in range(5):
        assert_same_elements(da.load(path), images())
    iterator = iter(da.load(path).batch(7))
    first = next(iterator)
    gc.collect()
    assert len(list(aliases.iterdir())) == 1  # the iterator's, while it reads
    assert sum(len(b["label"]) for b in iterator) + len(first["label"]) == len(list(images()))
    del iterator
    gc.collect()
    assert list(aliases.iterdir()) == []  # not one folder per load left until the process exits


def _abandon(path, vid):
    """A version folder as a writer that died before committing leaves it (no fresh lease)."""
    folder = path / "versions" / vid
    folder.mkdir(parents=True)
    (folder / "partial.npy").write_bytes(b"x" * 100)
    lease = path / "writers" / f"{vid}.json"
    lease.parent.mkdir(exist_ok=True)
    lease.write_text(json.dumps({"id": vid, "heartbeat": time.time() - 3600}))
    return folder


def test_clean_up_matches_exact_names_only(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", "1")
    arts = {name: tmp_path / name for name in ["x[1]", "x1", "a*", "ab", "a"]}
    for path in arts.values():
        da.save(images(), path, format="npy")
    debris = {name: _abandon(path, f"20200101T000000000000Z-dead{i:02d}") for i, (name, path) in enumerate(arts.items())}
    da.save(images(), arts["x[1]"], format="npy", overwrite=True)  # its own debris goes, x1's stays
    da.save(images(), arts["a*"], format="npy", overwrite=True)  # its own debris goes, ab's and a's stay
    assert not debris["x[1]"].exists() and not debris["a*"].exists()
    assert debris["x1"].exists() and debris["ab"].exists() and debris["a"].exists()
    for name in ("x1", "ab", "a"):
        assert_same_elements(da.load(arts[name]), images())
