"""home / load_asset: where artifacts live, and loading only the artifact its round-trip check verified."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.catalog import available
from dataset_assets.home import artifact_path, home, read_stamp, stamp_path, write_stamp
from dataset_assets_tests.helpers import assert_same_elements


def ds(n=5):
    return tf.data.Dataset.from_tensor_slices({"x": np.arange(n, dtype=np.int64), "s": [b"v%d" % i for i in range(n)]})


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_HOME", str(tmp_path / "h"))
    return tmp_path / "h" / "artifacts"


def test_home_is_the_env_var_or_one_fixed_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_HOME", str(tmp_path))
    assert home() == tmp_path and artifact_path("numeric_npy") == tmp_path / "artifacts" / "numeric_npy"
    assert artifact_path("team/events") == artifact_path(["team", "events"]) == tmp_path / "artifacts" / "team" / "events"
    monkeypatch.delenv("DATASET_ASSETS_HOME")
    monkeypatch.chdir(tmp_path)
    assert home() == Path("~/.dataset_assets").expanduser()  # not the CWD
    for bad in ("", "../x", "a//b", "a/../b", "/abs", ".hidden", "a\\b", []):
        with pytest.raises(da.ArtifactError, match="is not an asset name"):
            artifact_path(bad)


def test_load_asset_returns_the_verified_artifact(store):
    da.save(ds(), store / "numbers", format="npy")
    stamp = write_stamp(store / "numbers")
    assert stamp == stamp_path(store / "numbers") == store / "numbers.verified.json"  # beside, not inside
    assert json.loads(stamp.read_text())["fingerprint"] == da.read_manifest(store / "numbers").fingerprint
    assert_same_elements(da.load_asset("numbers"), ds())
    assert available() == ["numbers"]


def test_unverified_artifacts_are_refused_and_the_verified_version_is_kept(store):
    da.save(ds(), store / "numbers", format="npy", keep=2)
    with pytest.raises(da.ArtifactError, match=r"numbers has no verification stamp \(numbers\.verified\.json\)"):
        da.load_asset("numbers")
    assert_same_elements(da.load_asset("numbers", verified=False), ds())
    write_stamp(store / "numbers")
    da.save(ds(3), store / "numbers", format="npy", overwrite=True, keep=2)  # new content, not yet checked
    assert_same_elements(da.load_asset("numbers"), ds())  # the latest VERIFIED version, not the newest
    assert_same_elements(da.load_asset("numbers", verified=False), ds(3))
    da.save(ds(4), store / "numbers", format="npy", overwrite=True, keep=2)  # retention drops the verified one
    with pytest.raises(da.ArtifactError, match="rewritten after its last passing round-trip check.*no longer retained"):
        da.load_asset("numbers")
    stamp_path(store / "numbers").write_text("{torn")
    assert read_stamp(store / "numbers") is None
    with pytest.raises(da.ArtifactError, match="no verification stamp"):
        da.load_asset("numbers")


def test_missing_artifact_names_the_place_and_what_exists(store):
    with pytest.raises(da.ArtifactError, match=r"no artifact 'image_pathlist' in .*artifacts .*run `dataset-assets materialize`"):
        da.load_asset("image_pathlist")
    da.save(ds(), store / "numbers", format="npy")
    with pytest.raises(da.ArtifactError, match="available: numbers"):
        da.load_asset("image_pathlist")
    other = store.parent / "elsewhere"
    da.save(ds(2), other / "numbers", format="npy")
    assert int(da.load_asset("numbers", verified=False, base_dir=other).cardinality()) == 2
    assert os.environ["DATASET_ASSETS_HOME"] == str(store.parent)
