"""hdf5: round trips, options, what data.h5 holds, damage reported with the file named, parallel reads."""

import fcntl
import gc
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.formats import _columnar, hdf5
from dataset_assets_tests.helpers import rewrite_manifest, version_dir

STRINGS = [b"", b"a", b"\xff\xfe\x00bytes", "grüße".encode(), b"x" * 300]


def _leaves(element) -> list:
    """Comparable leaves: ragged as (lists, ragged_rank, dtype), strings as bytes lists, numbers as raw bytes."""
    out = []
    for x in tf.nest.flatten(element, expand_composites=False):
        if isinstance(x, tf.RaggedTensor):
            out.append((x.to_list(), x.ragged_rank, x.dtype.name))
        elif x.dtype == tf.string:
            v = x.numpy()  # bytes, or an object array of bytes (np.asarray would strip trailing NULs)
            out.append(("string", tuple(x.shape), v if isinstance(v, bytes) else v.tolist()))
        else:
            a = np.asarray(x.numpy())  # not np.asarray(x): that fails for scalar bfloat16 tensors
            out.append((a.dtype.str, a.shape, a.tobytes()))
    return out


def assert_same_elements(actual: tf.data.Dataset, expected: tf.data.Dataset) -> None:
    """Exact element_spec, same number of elements, bitwise-equal leaves (so NaN == NaN, -0.0 != 0.0)."""
    assert actual.element_spec == expected.element_spec, f"{actual.element_spec} != {expected.element_spec}"
    got, want = [_leaves(e) for e in actual], [_leaves(e) for e in expected]
    assert len(got) == len(want), f"{len(got)} elements, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"element {i}: values differ: {g!r} != {w!r}"


def _rng():
    return np.random.default_rng(0)


# shared with test_tfdata.py: the format-specific structures both formats must hold exactly
CASES = {
    "fixed_float32": lambda: tf.data.Dataset.from_tensor_slices(_rng().standard_normal((50, 4, 3)).astype(np.float32)),
    "strings": lambda: tf.data.Dataset.from_tensor_slices(np.array(STRINGS, dtype=object)),
    "string_matrix": lambda: tf.data.Dataset.from_tensor_slices(np.array([[b"", b"\x80"], [b"abc", b""], [b"\xff", b"z"]], dtype=object)),
    "nested": lambda: tf.data.Dataset.from_tensor_slices(
        {"a": (np.arange(5, dtype=np.int32), {"b": np.array(STRINGS, dtype=object)}), "c": np.ones((5, 2), np.float64)}
    ),
    "variable_length": lambda: tf.data.Dataset.range(6).map(lambda i: (tf.range(i), tf.zeros([i, 2], tf.float32))),
    "ragged": lambda: tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]], dtype=tf.int32)),
    "ragged_rank1": lambda: tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[[1.0], [2.0, 3.0]], [[]], [], [[4.0]]])),
    "ragged_strings": lambda: tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[b"", b"\xff"], [], [b"x"]])),
    "ragged0_beside_variable": lambda: tf.data.Dataset.zip(
        (
            tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]])).batch(2).unbatch(),
            tf.data.Dataset.range(4).map(lambda i: tf.range(i)),
        )
    ),
    "empty": lambda: tf.data.Dataset.from_tensor_slices({"x": np.zeros((0, 3), np.float32), "s": tf.constant([], tf.string)}),
    "zero_size": lambda: tf.data.Dataset.from_tensor_slices(np.zeros((4, 0, 3), np.int16)),
    # a varying dimension beside a zero one: each element flattens to a static [0], which ragged_batch keeps dense
    "zero_width_variable": lambda: tf.data.Dataset.range(4).map(lambda i: tf.zeros(tf.stack([i, 0]), tf.float32)),
    "dtypes": lambda: tf.data.Dataset.from_tensor_slices(
        {
            "bool": np.array([True, False, True]),
            "uint64": np.array([0, 2**64 - 1, 2**63], np.uint64),
            "float16": np.array([np.nan, -np.inf, 65504], np.float16),
            "bfloat16": tf.constant([1.5, -0.0, 3e38], tf.bfloat16),
        }
    ),
}


def _save(dataset, path, **options):
    return da.save(dataset, path, format="hdf5", **options)


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(tmp_path, case):
    dataset = CASES[case]()
    manifest = _save(dataset, tmp_path / "art")
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == dataset.element_spec
    assert int(loaded.cardinality()) == manifest.num_elements
    assert_same_elements(loaded, dataset)
    assert da.verify(tmp_path / "art", dataset).ok


def test_file_layout(tmp_path):
    dataset = CASES["nested"]()
    manifest = _save(dataset, tmp_path / "art")
    assert [f.path for f in manifest.files] == ["data.h5"]
    assert manifest.details["file"] == "data.h5"
    with h5py.File(version_dir(tmp_path / "art") / "data.h5", "r") as f:
        assert f.attrs["dataset_assets.format"] == "hdf5"
        assert json.loads(f.attrs["dataset_assets.streams"]) == list(manifest.details["streams"])
        for name in manifest.details["streams"].values():
            ds = f[name]
            assert ds.maxshape[0] is None and ds.chunks is not None
            assert ds.dtype.kind in "biuf" and h5py.check_vlen_dtype(ds.dtype) is None  # strings are bytes + lengths
        strings = [k for k in manifest.details["streams"] if k.endswith("_b.values")]
        assert f[strings[0]].dtype == np.uint8
        assert f[strings[0]][:].tobytes() == b"".join(STRINGS)


@pytest.mark.parametrize(
    "options, expect",
    [
        ({}, (None, None)),
        ({"compression": "gzip"}, ("gzip", 4)),
        ({"compression": "gzip", "compression_opts": 9}, ("gzip", 9)),
        ({"compression": "lzf"}, ("lzf", None)),
    ],
)
def test_compression(tmp_path, options, expect):
    dataset = tf.data.Dataset.from_tensor_slices({"x": np.zeros((2000, 16), np.float32), "s": np.array(STRINGS * 400, dtype=object)})
    manifest = _save(dataset, tmp_path / "art", **options)
    assert manifest.options["compression"] == expect[0] and manifest.options["compression_opts"] == expect[1]
    with h5py.File(version_dir(tmp_path / "art") / "data.h5", "r") as f:
        for name in manifest.details["streams"].values():
            assert (f[name].compression, f[name].compression_opts) == expect
    if expect[0]:  # zeros and repeated strings shrink a lot
        assert manifest.total_bytes < 2000 * 16 * 4 // 4
    assert_same_elements(da.load(tmp_path / "art"), dataset)


def test_chunk_bytes_sets_chunk_rows(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices(np.arange(1000 * 8, dtype=np.float64).reshape(1000, 8))  # 64-byte rows
    manifest = _save(dataset, tmp_path / "art", chunk_bytes=640)
    with h5py.File(version_dir(tmp_path / "art") / "data.h5", "r") as f:
        (name,) = manifest.details["streams"].values()
        assert f[name].chunks == (10, 8)
    assert_same_elements(da.load(tmp_path / "art"), dataset)


def test_small_stream_gets_a_small_chunk(tmp_path):
    manifest = _save(tf.data.Dataset.range(3), tmp_path / "art")
    assert manifest.total_bytes < 64 << 10  # not a whole 1 MiB chunk for 24 bytes
    with h5py.File(version_dir(tmp_path / "art") / "data.h5", "r") as f:
        assert f[next(iter(manifest.details["streams"].values()))].chunks == (3,)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"compression": "zstd"}, r"compression='zstd'.*None, 'gzip', 'lzf'"),
        ({"compression": "GZIP"}, r"compression='GZIP'.*None, 'gzip', 'lzf'"),
        ({"compression": "gzip", "compression_opts": 10}, r"0 to 9"),
        ({"compression": "gzip", "compression_opts": "4"}, r"0 to 9"),
        ({"compression": "lzf", "compression_opts": 4}, r"only applies to compression='gzip'"),
        ({"compression_opts": 4}, r"only applies to compression='gzip'"),
        ({"chunk_bytes": 0}, r"chunk_bytes=0 must be an int from 1"),
        ({"chunk_bytes": True}, r"chunk_bytes=True"),
        ({"chunk_bytes": "1MB"}, r"chunk_bytes='1MB'"),
        ({"level": 3}, r"no option 'level'.*chunk_bytes, compression, compression_opts"),
    ],
)
def test_bad_options_are_refused_before_writing(tmp_path, options, message):
    with pytest.raises(da.UnsupportedDatasetError, match=message):
        _save(tf.data.Dataset.range(3), tmp_path / "art", **options)
    assert not (tmp_path / "art").exists()


def _artifact(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices(_rng().standard_normal((1000, 16)).astype(np.float32))
    manifest = _save(dataset, tmp_path / "art")
    return dataset, manifest, tmp_path / "art", version_dir(tmp_path / "art") / "data.h5"


def test_flipped_byte_in_the_data_is_reported(tmp_path):
    dataset, manifest, art, victim = _artifact(tmp_path)
    with h5py.File(victim, "r") as f:
        (name,) = manifest.details["streams"].values()
        offset = f[name].id.get_chunk_info(0).byte_offset + 1000
    data = bytearray(victim.read_bytes())
    data[offset] ^= 0xFF
    victim.write_bytes(bytes(data))
    report = da.verify(art)
    assert not report.ok
    assert any(str(victim) in p and "checksum" in p for p in report.problems), report.problems
    # a checked load refuses the damaged block, naming the file
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim)) + ".*do not match the checksum recorded when it was written"):
        assert_same_elements(da.load(art), dataset)
    # unchecked, the flipped byte reaches the elements, so it was in the data region
    with pytest.raises(AssertionError, match="values differ"):
        assert_same_elements(da.load(art, checked=False), dataset)


def test_truncated_file_is_reported_and_refused(tmp_path):
    _, _, art, victim = _artifact(tmp_path)
    victim.write_bytes(victim.read_bytes()[:-100])
    report = da.verify(art)
    assert not report.ok and any(str(victim) in p and "truncated" in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim))):
        da.load(art)


def test_missing_file_is_reported_and_refused(tmp_path):
    _, _, art, victim = _artifact(tmp_path)
    victim.unlink()
    report = da.verify(art)
    assert not report.ok and any(str(victim) in p and "missing" in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim))):
        da.load(art)


def test_garbage_of_the_right_size_is_refused(tmp_path):
    _, _, art, victim = _artifact(tmp_path)
    victim.write_bytes(b"\0" * victim.stat().st_size)
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim))):
        list(da.load(art))  # the block checks catch it first
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim)) + ".*not a readable HDF5 file"):
        da.load(art, checked=False)
    assert not da.verify(art).ok


def test_details_name_the_datasets(tmp_path):
    _, manifest, art, victim = _artifact(tmp_path)
    (key,) = manifest.details["streams"]

    def edit(doc):
        doc["details"]["streams"][key] = "elsewhere"

    rewrite_manifest(art, edit)
    with pytest.raises(da.ArtifactError, match=re.escape(f"{victim}: stream {key!r}")):
        da.load(art)


def test_details_pointing_at_the_wrong_dataset_are_refused(tmp_path):
    _save(CASES["strings"](), tmp_path / "art")
    values, lengths = da.read_manifest(tmp_path / "art").details["streams"]

    def edit(doc):
        assert list(doc["details"]["streams"]) == [values, lengths]
        doc["details"]["streams"] = {values: lengths, lengths: values}

    rewrite_manifest(tmp_path / "art", edit)
    with pytest.raises(da.ArtifactError, match=f"HDF5 dataset '{re.escape(lengths)}' is int64.*expected uint8"):
        da.load(tmp_path / "art")


@pytest.mark.parametrize("checked", [True, False])
def test_file_stays_open_read_only_while_the_dataset_lives(tmp_path, checked):
    dataset, _, art, victim = _artifact(tmp_path)
    loaded = da.load(art, checked=checked).batch(7)
    gc.collect()
    open_files = {i.name.decode(): i.get_intent() for i in h5py.h5f.get_obj_ids(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE)}
    if checked:  # libhdf5 reads through a checked file object (its name is the object's repr) over data.h5
        readers = [o for o in gc.get_objects() if isinstance(o, hdf5._CheckedIO) and o.reader.path == str(victim)]
        assert readers, "no checked reader holds data.h5 open"
        assert any(open_files.get(repr(o)) == h5py.h5f.ACC_RDONLY for o in readers), open_files
        for o in readers:
            assert o.reader.fd is not None and fcntl.fcntl(o.reader.fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
    else:
        assert open_files.get(str(victim)) == h5py.h5f.ACC_RDONLY
    assert_same_elements(loaded.unbatch(), dataset)


def test_parallel_reads_do_not_deadlock(tmp_path, monkeypatch):
    monkeypatch.setattr(_columnar, "CHUNK_BYTES", 1024)  # many small chunk reads, so they do overlap
    x = np.arange(4_000 * 8, dtype=np.float32).reshape(-1, 8)
    s = np.array([STRINGS[i % 5] for i in range(4_000)], dtype=object)
    _save(tf.data.Dataset.from_tensor_slices((x, s)), tmp_path / "art", compression="gzip", chunk_bytes=4096)
    loaded = da.load(tmp_path / "art")
    total = float(x.astype(np.float64).sum())

    def sum_of(ds):
        return float(ds.reduce(tf.constant(0.0, tf.float64), lambda acc, e: acc + tf.reduce_sum(tf.cast(e[0], tf.float64))))

    mapped = loaded.map(lambda a, b: (a * 1, tf.strings.length(b)), num_parallel_calls=tf.data.AUTOTUNE)
    assert sum_of(mapped) == total
    copies = tf.data.Dataset.range(4).interleave(lambda i: loaded, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE)
    assert sum_of(copies) == 4 * total
    with ThreadPoolExecutor(3) as pool:  # three Python threads iterating the same loaded dataset at once
        assert list(pool.map(sum_of, [loaded.prefetch(tf.data.AUTOTUNE)] * 3)) == [total] * 3
    assert [bytes(b) for _, b in loaded.take(6).as_numpy_iterator()] == STRINGS + STRINGS[:1]


def test_chunks_of_nearly_a_checksum_block_start_on_one(tmp_path):
    """Aligned, a chunk is read straight into libhdf5's buffer and checked there; small chunks are not padded out."""
    from dataset_assets.storage.checksums import BLOCK_BYTES

    images = np.random.default_rng(0).integers(0, 255, (300, 64, 64, 3), dtype=np.uint8)  # 85 rows a chunk: 1,044,480 bytes
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "label": np.arange(300)})
    da.save(ds, tmp_path / "art", format="hdf5")
    files = [p for p in (tmp_path / "art").rglob("data.h5")]
    with h5py.File(files[0], "r") as f:
        big, small = f["c000.image.values"], f["c001.label.values"]
        offsets = [big.id.get_chunk_info(i).byte_offset for i in range(big.id.get_num_chunks())]
        assert len(offsets) == 4 and all(o % BLOCK_BYTES == 0 for o in offsets), offsets
        assert small.id.get_chunk_info(0).size < BLOCK_BYTES // 2
    # the padding: up to one block before the first aligned chunk (after the file's metadata), then each chunk's last 4 KiB
    assert files[0].stat().st_size <= (len(offsets) + 1) * BLOCK_BYTES + (64 << 10)
    assert_same_elements(da.load(tmp_path / "art"), ds)
