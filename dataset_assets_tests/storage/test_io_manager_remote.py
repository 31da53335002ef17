"""The IO manager with a memory:// or s3:// base_dir: assets are written to that store (as versioned artifacts),
downstream assets read them from there, and no local folder named after the URL is ever created."""

import uuid

import pytest
from dagster import asset, materialize
from fsspec.implementations.memory import MemoryFileSystem

import dataset_assets as da
from dataset_assets.dagster import NpyIOManager, TFRecordIOManager
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import images, join

def doubled_labels(dataset):
    return dataset.map(lambda e: {"image": e["image"], "label": e["label"] * 2})


def graph(received: list, seed: int = 1):
    @asset
    def numbers():
        return images(seed)

    @asset
    def doubled(numbers):
        received.extend(util.elements(numbers))  # what the downstream asset got from the store
        return doubled_labels(numbers)

    return [numbers, doubled]


def no_local_folder_named_after_a_url(root) -> None:
    bad = [str(p) for p in root.rglob("*") if ":" in p.name or p.name in ("s3", "memory") or p.name.startswith("bucket-x")]
    assert not bad, f"local folders named after the URL: {bad}"


def check_materialized(tmp_path, base: str, io_manager) -> None:
    received = []
    result = materialize(graph(received), resources={"io_manager": io_manager})
    assert result.success
    no_local_folder_named_after_a_url(tmp_path)
    assert util.elements(images(1)) == received
    (info,) = da.versions(join(base, "numbers"))
    assert info.current and info.num_elements == 40 and info.format == io_manager.format
    assert_same_elements(da.load(join(base, "numbers")), images(1))
    assert_same_elements(da.load(join(base, "doubled")), doubled_labels(images(1)))
    assert_same_elements(da.load_asset("numbers", verified=False, base_dir=base), images(1))


@pytest.fixture
def memory_base():
    top = f"bucket-x-{uuid.uuid4().hex[:12]}"
    yield f"memory://{top}/arts"
    for key in [k for k in MemoryFileSystem.store if k.startswith(f"/{top}/")]:
        MemoryFileSystem.store.pop(key, None)
    MemoryFileSystem.pseudo_dirs[:] = [d for d in MemoryFileSystem.pseudo_dirs if not d.startswith(f"/{top}")]


def test_memory_base_dir_writes_to_the_store(tmp_path, monkeypatch, memory_base):
    monkeypatch.chdir(tmp_path)
    check_materialized(tmp_path, memory_base, NpyIOManager(base_dir=memory_base))
    # re-materializing adds a version; the first one stays loadable
    first = da.versions(join(memory_base, "numbers"))[0].id
    assert materialize(graph([], seed=2), resources={"io_manager": NpyIOManager(base_dir=memory_base)}).success
    infos = da.versions(join(memory_base, "numbers"))
    assert [v.id for v in infos][0] == first and len(infos) == 2 and infos[-1].current
    assert_same_elements(da.load(join(memory_base, "numbers"), version=first), images(1))
    assert_same_elements(da.load(join(memory_base, "numbers")), images(2))
    no_local_folder_named_after_a_url(tmp_path)


def test_s3_base_dir_writes_to_the_bucket(tmp_path, monkeypatch, bucket):
    monkeypatch.chdir(tmp_path)
    base = f"s3://{bucket}/arts"
    check_materialized(tmp_path, base, NpyIOManager(base_dir=base))
    names = util.names_under(base)
    assert "numbers/current.json" in names and "doubled/current.json" in names


def test_s3_base_dir_with_fs_options(tmp_path, monkeypatch, bucket, s3_server, env_points_nowhere):
    monkeypatch.chdir(tmp_path)  # only the resource's fs_options lead to the server
    base = f"s3://{bucket}/arts"
    received = []
    manager = TFRecordIOManager(base_dir=base, fs_options=s3_server.options)
    assert materialize(graph(received), resources={"io_manager": manager}).success
    no_local_folder_named_after_a_url(tmp_path)
    assert util.elements(images(1)) == received
    assert "numbers/current.json" in util.names_under(base)
    assert_same_elements(da.load(join(base, "doubled"), storage_options=s3_server.options), doubled_labels(images(1)))
    assert env_points_nowhere.connections == 0, "requests went by the environment, not the resource's fs_options"
