"""`da.open`: random access gives exactly the elements `load` yields, in every format that offers it, checked and bounded."""

import logging

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.storage.checksums import BLOCK_BYTES, CheckedFile, digest_bytes, unpack_crcs
from dataset_assets.storage.gather import BlockGather
from dataset_assets_tests.helpers import leaves, mapped_resident_bytes, version_dir
from dataset_assets_tests.test_roundtrip import CASES

RANDOM_ACCESS = ("npy", "hdf5", "tfrecord")


def assert_same(got, want, where) -> None:
    for a, b in zip(leaves(got), leaves(want)):
        if isinstance(b, np.ndarray):
            assert (a.dtype, a.shape) == (b.dtype, b.shape), where
            assert a.flags.writeable, where  # the caller's own array, never a view of a record or a map
            assert a.tolist() == b.tolist() if b.dtype == object else a.tobytes() == b.tobytes(), where
        else:
            assert a == b, where


@pytest.mark.parametrize("case", sorted(set(CASES) - {"large_4mb", "large_variable"}))
@pytest.mark.parametrize("fmt", RANDOM_ACCESS)
def test_every_element_by_index_equals_what_load_yields(tmp_path, fmt, case):
    da.save(CASES[case](), tmp_path / "art", format=fmt)
    loaded = list(da.load(tmp_path / "art"))
    art = da.open(tmp_path / "art")
    assert len(art) == len(loaded) and art.element_spec == da.load(tmp_path / "art").element_spec
    order = list(range(len(loaded)))[::-1]
    for i, got in zip(order, art[order]):  # several at once, in the order asked
        assert_same(got, loaded[i], (fmt, case, i))
    for i in range(len(loaded)):
        assert_same(art[i], loaded[i], (fmt, case, i))
        assert_same(art[i - len(loaded)], loaded[i], (fmt, case, "negative", i))


def _images(n=50):
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (n, 6, 5, 3), dtype=np.uint8), np.arange(n)


@pytest.mark.parametrize("options", [{}, {"num_shards": 3}, {"shard_bytes": 4096}])
def test_tfrecord_finds_records_in_every_shard_layout(tmp_path, options):
    images, labels = _images()
    da.save(tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}), tmp_path / "t", format="tfrecord", **options)
    art = da.open(tmp_path / "t")
    for i in np.random.default_rng(0).integers(0, len(labels), 40):
        e = art[int(i)]
        assert e["label"] == i and np.array_equal(e["image"], images[i])


def test_pathlist_images_by_index(tmp_path):
    images, labels = _images()
    da.save(tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}), tmp_path / "p", format="pathlist")
    art = da.open(tmp_path / "p")
    for i, e in zip([49, 0, 7], art[[49, 0, 7]]):
        assert e["label"] == i and e["image"].dtype == np.uint8 and np.array_equal(e["image"], images[i])
    assert [int(e["label"]) for e in art[45:]] == [45, 46, 47, 48, 49]


def test_opening_pathlist_artifacts_again_and_again_traces_one_decoder_without_warnings(tmp_path):
    images, labels = _images()
    da.save(tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}), tmp_path / "p", format="pathlist")
    da.save(tf.data.Dataset.from_tensor_slices({"image": images[:5], "label": labels[:5]}), tmp_path / "q", format="pathlist")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("tensorflow").addHandler(handler)
    try:
        for k in range(8):  # TensorFlow warns of "excessive retracing" from the sixth new trace of the same code on
            art = da.open(tmp_path / "pq"[k % 2])
            assert np.array_equal(art[k % 5]["image"], images[k % 5])
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    assert [r.getMessage() for r in records if "retracing" in r.getMessage()] == []


@pytest.mark.parametrize("fmt, options", [("tfdata", {}), ("tfrecord", {"compression": "GZIP"})])
def test_a_format_without_random_access_is_named_with_the_ones_that_have_it(tmp_path, fmt, options):
    da.save(tf.data.Dataset.range(5), tmp_path / "x", format=fmt, **options)
    with pytest.raises(da.ArtifactError, match="no random access; npy, hdf5, pathlist and uncompressed tfrecord have it.*convert"):
        da.open(tmp_path / "x")


def test_bad_indices_are_refused_like_a_sequence(tmp_path):
    da.save(tf.data.Dataset.range(5), tmp_path / "x", format="npy")
    art = da.open(tmp_path / "x")
    for bad in (5, -6):
        with pytest.raises(IndexError, match="out of range.*5 elements"):
            art[bad]
    with pytest.raises(IndexError):
        art[[0, 9]]
    for huge in ([2**64 - 1], np.array([2**63], np.uint64), np.uint64(2**64 - 1)):  # not wrapped round to the last element
        with pytest.raises(IndexError, match="out of range"):
            art[huge]
    assert art[np.array([4], np.uint64)] == [4]
    for bad in ("a", 1.5, [[0]], [True, False]):
        with pytest.raises(TypeError, match="int, a slice or a list of ints"):
            art[bad]
    assert art[[]] == [] and [int(x) for x in art[::2]] == [0, 2, 4] and int(art[np.int32(3)]) == 3


@pytest.mark.parametrize("fmt", ["npy", "tfrecord"])
def test_a_flipped_byte_raises_naming_the_file_before_any_element(tmp_path, fmt):
    values = np.arange(300_000, dtype=np.int64)  # 2.4 MB: three checksum blocks
    da.save(tf.data.Dataset.from_tensor_slices(values), tmp_path / "x", format=fmt)
    data = max((p for p in version_dir(tmp_path / "x").iterdir() if p.name != "manifest.json"), key=lambda p: p.stat().st_size)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 1
    data.write_bytes(bytes(raw))
    art = da.open(tmp_path / "x")
    assert int(art[0]) == 0  # the first block is intact
    with pytest.raises(da.ArtifactError, match=f"{data.name}: bytes .* \\(block [0-9]+\\) do not match the checksum"):
        art[150_000]
    assert int(da.open(tmp_path / "x", checked=False)[0]) == 0


def test_open_pins_one_version(tmp_path):
    da.save(tf.data.Dataset.range(3), tmp_path / "x", format="npy")
    art = da.open(tmp_path / "x")
    first = art.manifest.version
    da.save(tf.data.Dataset.range(10, 14), tmp_path / "x", format="npy", overwrite=True)
    assert len(art) == 3 and [int(e) for e in art[:]] == [0, 1, 2] and art.manifest.version == first
    assert [int(e) for e in da.open(tmp_path / "x")[:]] == [10, 11, 12, 13]
    assert [int(e) for e in da.open(tmp_path / "x", version=first)[:]] == [0, 1, 2]


@pytest.mark.parametrize("cache_blocks", [2, 3, 64])
def test_block_gather_returns_every_range_whatever_the_cache_holds(tmp_path, cache_blocks):
    rng = np.random.default_rng(cache_blocks)
    data = rng.integers(0, 256, 5 * BLOCK_BYTES + 123, dtype=np.uint8).tobytes()
    (tmp_path / "f").write_bytes(data)
    crcs = unpack_crcs(digest_bytes(data).crc32c, "f")
    gather = BlockGather(CheckedFile(str(tmp_path / "f"), len(data), crcs), cache_blocks * BLOCK_BYTES)
    flat = np.frombuffer(data, np.uint8)
    for trial in range(60):
        k = int(rng.integers(0, 40))
        lengths = np.full(k, int(rng.integers(0, BLOCK_BYTES + 5))) if trial % 2 else rng.integers(0, 70_000, k)
        starts = np.array([rng.integers(0, len(data) - n + 1) for n in lengths], np.int64)
        want = np.concatenate([flat[s : s + n] for s, n in zip(starts, lengths)]) if k else np.zeros(0, np.uint8)
        assert np.array_equal(gather.ranges(starts, lengths), want), trial
    with pytest.raises(da.ArtifactError, match="past its recorded size"):
        gather.ranges(np.array([len(data) - 2]), np.array([4]))


def test_block_gather_keeps_at_most_its_capacity_of_the_file_resident(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, 8 * BLOCK_BYTES, dtype=np.uint8).tobytes()
    (tmp_path / "f").write_bytes(data)
    gather = BlockGather(CheckedFile(str(tmp_path / "f"), len(data), unpack_crcs(digest_bytes(data).crc32c, "f")), 2 * BLOCK_BYTES)
    for k in range(8):  # every block checked in turn, through a map that may keep two
        assert gather.one(k * BLOCK_BYTES + 10, 100).tobytes() == data[k * BLOCK_BYTES + 10 : k * BLOCK_BYTES + 110]
    # the two blocks checked last stay mapped in; the others were dropped (the kernel may map a few pages around a fault)
    assert BLOCK_BYTES <= mapped_resident_bytes(tmp_path / "f") <= 2 * BLOCK_BYTES + (256 << 10)


@pytest.mark.parametrize("fmt", ["npy", "tfrecord"])
def test_a_file_truncated_after_open_raises_naming_it_at_the_first_random_read(tmp_path, fmt):
    # open checks every file's size; a file cut short after that is found before its map is made, never read past its end
    da.save(tf.data.Dataset.from_tensor_slices({"x": np.arange(400_000, dtype=np.int64)}), tmp_path / "art", format=fmt)
    manifest = da.read_manifest(tmp_path / "art")
    victim = version_dir(tmp_path / "art") / max(manifest.files, key=lambda f: f.bytes).path
    art, shuffled = da.open(tmp_path / "art"), da.load(tmp_path / "art", shuffle_seed=0)
    victim.write_bytes(victim.read_bytes()[: BLOCK_BYTES + 5])
    with pytest.raises(da.ArtifactError, match=f"{victim}: ends at byte {BLOCK_BYTES + 5}"):
        art[399_999]
    with pytest.raises(da.ArtifactError, match=str(victim)):
        list(shuffled)


def test_open_reads_a_remote_version_through_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_CACHE", str(tmp_path / "cache"))
    url = f"memory://open-test/{tmp_path.name}/x"
    da.save(tf.data.Dataset.range(100).map(lambda i: {"i": i, "s": tf.strings.as_string(i)}), url, format="tfrecord")
    art = da.open(url)
    assert [int(e["i"]) for e in art[[99, 0, 42]]] == [99, 0, 42] and art[7]["s"] == b"7"
