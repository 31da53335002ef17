"""Artifacts on object stores (the S3 server, memory://): save, load, verify and versions; URL, file:// and UPath
paths; storage_options; the local read cache (DATASET_ASSETS_CACHE): a second load downloads nothing, a damaged
entry is fetched again, the size bound holds; a flipped byte in the store is refused naming the file."""

import pytest
from upath import UPath

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import FORMATS, GENERAL, images, join, nested


def no_local_folder_named_after_a_url(root) -> None:
    bad = [str(p) for p in root.rglob("*") if ":" in p.name or p.name in ("s3", "memory")]
    assert not bad, f"local folders named after the URL: {bad}"


def check_remote(url: str, fmt: str, versions: bool) -> None:
    first = da.save(images(1), url, format=fmt)
    assert_same_elements(da.load(url), images(1))
    report = da.verify(url, images(1))
    assert report.ok, report.problems
    (info,) = da.versions(url)
    assert (info.id, info.current, info.format, info.num_elements, info.fingerprint) == (first.version, True, fmt, 40, first.fingerprint)
    names = util.names_under(url)  # it is all in the store
    assert "current.json" in names and f"versions/{first.version}/manifest.json" in names
    for f in da.read_manifest(url).files:
        assert f"versions/{first.version}/{f.path}" in names
    if not versions:
        return
    second = da.save(images(2), url, format=fmt, overwrite=True)
    infos = da.versions(url)
    assert [(v.id, v.current) for v in infos] == [(first.version, False), (second.version, True)]
    assert_same_elements(da.load(url), images(2))
    assert_same_elements(da.load(url, version=first.version), images(1))
    assert da.verify(url, images(1), version=first.version).ok
    assert da.read_manifest(url).version == second.version


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_on_s3(bucket, fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_remote(f"s3://{bucket}/art", fmt, versions=fmt == "npy")
    no_local_folder_named_after_a_url(tmp_path)


@pytest.mark.parametrize("fmt", ["npy", "pathlist"])
def test_memory_save_load_verify_versions(memory_url, fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_remote(memory_url, fmt, versions=True)
    no_local_folder_named_after_a_url(tmp_path)


@pytest.mark.parametrize("fmt", GENERAL)
def test_nested_dataset_round_trips_on_s3(bucket, fmt):
    url = f"s3://{bucket}/nested"
    da.save(nested(), url, format=fmt)
    assert_same_elements(da.load(url), nested())
    report = da.verify(url, nested())
    assert report.ok, report.problems


def test_file_urls_and_upath_objects(tmp_path, bucket, memory_url):
    local = tmp_path / "art"
    saved = da.save(images(1), f"file://{local}", format="npy")
    assert (local / "current.json").is_file()  # file:// is that local folder
    for form in (local, str(local), f"file://{local}", UPath(local)):
        assert_same_elements(da.load(form), images(1))
        assert [v.id for v in da.versions(form)] == [saved.version]

    mem = da.save(images(2), UPath(memory_url), format="hdf5")
    assert_same_elements(da.load(memory_url), images(2))
    assert da.versions(UPath(memory_url))[0].id == mem.version

    url = f"s3://{bucket}/upath"
    da.save(images(3), UPath(url), format="hdf5")
    assert_same_elements(da.load(url), images(3))
    assert da.verify(UPath(url), images(3)).ok
    assert "current.json" in util.names_under(url)


def test_storage_options_and_upath_options_take_precedence_over_the_environment(bucket, s3_server, env_points_nowhere):
    options = s3_server.options
    url = f"s3://{bucket}/opts"
    saved = da.save(images(1), url, format="npy", storage_options=options)
    assert_same_elements(da.load(url, storage_options=options), images(1))
    assert da.verify(url, images(1), storage_options=options).ok
    assert [v.id for v in da.versions(url, storage_options=options)] == [saved.version]
    assert da.read_manifest(url, storage_options=options).version == saved.version
    assert "current.json" in util.names_under(url)

    upath = UPath(f"s3://{bucket}/upath", **options)
    da.save(images(2), upath, format="hdf5")
    assert_same_elements(da.load(upath), images(2))
    assert env_points_nowhere.connections == 0, "save/load/verify/versions/read_manifest/UPath went by the environment"
    base = f"s3://{bucket}"
    assert_same_elements(da.load_asset("opts", verified=False, base_dir=base, storage_options=options), images(1))
    assert env_points_nowhere.connections == 0, "load_asset(storage_options=...) sent requests by the environment"


def test_load_asset_from_a_remote_base_dir(bucket):
    base = f"s3://{bucket}/assets"
    da.save(images(4), join(base, "imgs"), format="npy")
    assert_same_elements(da.load_asset("imgs", verified=False, base_dir=base), images(4))


# --- the read cache -----------------------------------------------------------------------------------------


def saved_elsewhere(workers, bucket, fmt, seed=4, n=100, size=16):
    """An artifact written by another process (so this process's cache starts empty); (url, version, data keys)."""
    url = f"s3://{bucket}/art"
    version = workers.run("save_images", path=url, fmt=fmt, seed=seed, n=n, size=size)["version"]
    keys = {f"{bucket}/art/versions/{version}/{f.path}" for f in da.read_manifest(url).files}
    return url, version, keys


@pytest.mark.parametrize("fmt", ["npy", "pathlist"])
def test_loading_a_version_again_downloads_nothing(workers, bucket, s3_server, cache_dir, fmt):
    url, version, keys = saved_elsewhere(workers, bucket, fmt)
    log = s3_server.requests
    start = log.mark()
    assert_same_elements(da.load(url), images(4, n=100, size=16))
    assert log.gets(start, keys), "the first load downloaded no data file (is the request log working?)"
    largest = max(f.bytes for f in da.read_manifest(url).files)
    assert util.tree_size(cache_dir) >= largest, f"nothing like the data in DATASET_ASSETS_CACHE={cache_dir}"

    start = log.mark()
    assert_same_elements(da.load(url), images(4, n=100, size=16))
    assert_same_elements(da.load(url, version=version), images(4, n=100, size=16))
    fetched = log.gets(start, keys)
    assert not fetched, f"loading the same version again downloaded {sorted(set(fetched))}"


def test_damaged_cache_entry_is_detected_and_fetched_again(workers, bucket, s3_server, cache_dir):
    url, _, keys = saved_elsewhere(workers, bucket, "npy")
    for _ in da.load(url):  # fills the cache
        pass
    victim = max((p for p in cache_dir.rglob("*") if p.is_file() and not p.is_symlink()), key=lambda p: p.stat().st_size)
    util.flip_byte(victim)
    start = s3_server.requests.mark()
    assert_same_elements(da.load(url), images(4, n=100, size=16))
    assert s3_server.requests.gets(start, keys), f"the damaged cache entry {victim} was not fetched again"


def test_cache_stays_within_its_size_bound(bucket, cache_dir, monkeypatch):
    bound = 130_000  # one artifact (~80 kB of data) fits, two do not
    monkeypatch.setenv("DATASET_ASSETS_CACHE_BYTES", str(bound))
    for seed in (1, 2, 3):
        url = f"s3://{bucket}/art{seed}"
        da.save(images(seed, n=100, size=16), url, format="npy")
        assert_same_elements(da.load(url), images(seed, n=100, size=16))
        used = util.tree_size(cache_dir)
        assert used <= bound + 16_384, f"DATASET_ASSETS_CACHE holds {used} bytes, its bound is {bound}"


# --- damage in the store ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["npy", "tfrecord"])  # every format on local disk: test_checked_reads.py
def test_flipped_byte_on_s3_raises_naming_the_file(workers, bucket, fmt):
    url, version, _ = saved_elsewhere(workers, bucket, fmt)
    entry = max(da.read_manifest(url).files, key=lambda f: f.bytes)
    util.flip_byte(join(url, "versions", version, entry.path))
    got, error = util.drain(lambda: da.load(url))
    assert isinstance(error, da.ArtifactError), f"expected ArtifactError naming {entry.path}, got {error!r} after {len(got)} elements"
    assert entry.path in str(error), str(error)
    util.assert_prefix(got, images(4, n=100, size=16))
    report = da.verify(url)
    assert not report.ok and any(entry.path in p for p in report.problems), report.problems


def test_reading_starts_before_the_last_shard_has_arrived(workers, bucket, cache_dir, monkeypatch):
    """A slow link, simulated in s3fs's transport (4 shards of 4096 elements): the last shard's download is held back until the test has read
    the first elements; they come out while that shard is still missing from the cache, and the rest follows."""
    import asyncio
    import threading

    import s3fs

    url = f"s3://{bucket}/art"
    version = workers.run("save_images", path=url, fmt="tfrecord", seed=5, n=12_300, size=8, shard_bytes=100_000)["version"]
    shards = da.read_manifest(url).details["files"]
    assert len(shards) >= 3, shards
    last, released, held = shards[-1], threading.Event(), threading.Event()
    get_file = s3fs.S3FileSystem._get_file

    async def slow_link(self, rpath, lpath, **kwargs):
        if rpath.endswith(last):
            held.set()
            for _ in range(3000):  # 30 s at most, so that a reader that waits for everything still ends
                if released.is_set():
                    break
                await asyncio.sleep(0.01)
        return await get_file(self, rpath, lpath, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_get_file", slow_link)
    s3fs.S3FileSystem.clear_instance_cache()  # instances bind their sync methods when made
    loaded = da.load(url)
    it = iter(loaded)
    first = [next(it) for _ in range(10)]
    assert not released.is_set() and held.is_set()
    views = [p for p in (cache_dir / "views").iterdir() if (p / "manifest.json").exists()]
    assert len(views) == 1 and not (views[0] / last).exists(), "the last shard arrived before the first element was read"
    released.set()
    got = [util.element_bytes(e) for e in first] + [util.element_bytes(e) for e in it]
    assert got == util.elements(images(5, n=12_300, size=8))
    assert (views[0] / last).exists() and (views[0] / ".complete").exists()
    assert da.read_manifest(url).version == version


def test_iterator_of_a_streaming_load_is_checkpointable(workers, bucket, cache_dir, tmp_path):
    """The per-shard wait of a cold remote load holds no state: a checkpoint after k elements restores to element k."""
    import tensorflow as tf

    url = f"s3://{bucket}/art"
    workers.run("save_images", path=url, fmt="tfrecord", seed=6, n=12_300, size=8, shard_bytes=100_000)
    want = util.elements(images(6, n=12_300, size=8))
    loaded = da.load(url)  # cold: this process has fetched nothing yet
    it = iter(loaded)
    for _ in range(4100):  # into the second shard
        next(it)
    saved = tf.train.Checkpoint(iterator=it).write(str(tmp_path / "ckpt"))
    restored = iter(da.load(url))
    tf.train.Checkpoint(iterator=restored).read(saved).assert_consumed()
    assert [util.element_bytes(next(restored)) for _ in range(3)] == want[4100:4103]
