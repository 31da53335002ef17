"""tfrecord: exact round trips, the wire format and checksums TF itself accepts, options, the plain-TF reader, damage."""

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements, rewrite_manifest, version_dir
from dataset_assets_tests.test_roundtrip import CASES

DOC = Path(__file__).resolve().parents[2] / "docs" / "tfrecord.md"
INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
STRINGS = [b"", b"a", b"\xff\xfe\x00\x80 not utf-8", "grüße".encode(), b"x" * 200, b"y" * 20000]


def _save(dataset, path, **options):
    return da.save(dataset, path, format="tfrecord", **options)


def _round_trip(tmp_path, dataset, **options):
    manifest = _save(dataset, tmp_path / "art", **options)
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == dataset.element_spec
    assert int(loaded.cardinality()) == manifest.num_elements
    assert_same_elements(loaded, dataset)
    assert manifest.fingerprint == da.fingerprint(dataset)
    return manifest


def _values(dtype, shape):
    rng = np.random.default_rng(1)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype in INTS:
        info = np.iinfo(dtype)
        out = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        out.reshape(-1)[:2] = [info.min, info.max]
        return out
    if dtype == "complex64":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    out = rng.standard_normal(shape).astype("float32" if dtype == "bfloat16" else dtype)
    out.reshape(-1)[:3] = [np.nan, -0.0, np.inf]
    return tf.cast(out, tf.bfloat16) if dtype == "bfloat16" else out


def test_article_example(tmp_path):
    features = {"feature1": tf.constant([1, 2, 3]), "feature2": tf.constant(["a", "b", "c"])}
    dataset = tf.data.Dataset.from_tensor_slices(features)
    _save(dataset, tmp_path / "art")
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == dataset.element_spec
    assert [e for e in loaded.as_numpy_iterator()] == [e for e in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("dtype", INTS + ("float16", "float32", "float64", "bfloat16", "bool", "complex64"))
def test_every_dtype(tmp_path, dtype):
    _round_trip(tmp_path, tf.data.Dataset.from_tensor_slices(_values(dtype, [9, 3])))


def test_nan_payload_bits_survive(tmp_path):
    bits = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 0x7F800001], np.uint32)
    dataset = tf.data.Dataset.from_tensor_slices({"f32": bits.view(np.float32), "f64": bits.astype(np.uint64).view(np.float64) * 1})
    _round_trip(tmp_path, dataset)


def test_strings(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices({"s": np.array(STRINGS, object), "m": np.array([STRINGS[:2]] * 6, object)})
    _round_trip(tmp_path, dataset)


@pytest.mark.parametrize("rank", [0, 1, 2, 3, 4])
def test_ranks(tmp_path, rank):
    shape = [5] + [3, 2, 2, 1][:rank]
    columns = {"f": _values("float32", shape), "i": _values("int64", shape), "u": _values("uint16", shape)}
    _round_trip(tmp_path, tf.data.Dataset.from_tensor_slices(columns))


def test_zero_size_tensors(tmp_path):
    columns = {"e": np.zeros((3, 0, 2), np.float32), "i": np.zeros((3, 0), np.int64), "s": np.zeros((3, 0), object).astype(bytes)}
    _round_trip(tmp_path, tf.data.Dataset.from_tensor_slices(columns))


def test_variable_shapes(tmp_path):
    dataset = tf.data.Dataset.range(7).map(
        lambda i: {
            "ints": tf.range(i) * -(2**40),
            "f64": tf.ones([i, 2]) * tf.cast(i, tf.float32),
            "u32": tf.cast(tf.range(i * 3), tf.uint32),
            "words": tf.strings.as_string(tf.range(i)),
            "img": tf.zeros([i % 3, 2, i % 2], tf.uint8),
        }
    )
    _round_trip(tmp_path, dataset)


def test_ragged(tmp_path):
    rows = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]]))
    rank2 = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[[[1.0], [2.0, 3.0]], [[]]], [], [[[4.0, 5.0], [], [6.0]]]]))
    words = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[["a", "bc"]], [], [["\xff"], []]], row_splits_dtype=tf.int32))
    assert rank2.element_spec.ragged_rank == 2
    beside_variable = tf.data.Dataset.zip({"r": rows, "seq": tf.data.Dataset.range(4).map(tf.range), "n": tf.data.Dataset.range(4)})
    for i, dataset in enumerate([rows, rank2, words, beside_variable]):
        _round_trip(tmp_path / str(i), dataset)


def test_nested_dict_of_tuples_of_dicts(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices(
        {"a": (_values("int32", [4, 2]), {"b": np.array(STRINGS[:4], object), "c": _values("float64", [4])}), "d": _values("bool", [4])}
    )
    _round_trip(tmp_path, dataset)


def test_batched_dataset_with_short_last_batch(tmp_path):
    columns = {"x": _values("float32", [10, 3]), "s": np.array(STRINGS * 2, object)[:10]}
    _round_trip(tmp_path, tf.data.Dataset.from_tensor_slices(columns).batch(4))


def test_empty_dataset(tmp_path):
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 3), np.float32))
    manifest = _round_trip(tmp_path, empty)
    assert manifest.num_elements == 0 and manifest.details["files"] == ["data-00000-of-00001.tfrecord"]
    manifest = _round_trip(tmp_path / "gz", empty, num_shards=2, compression="GZIP")
    assert manifest.details["records_per_file"] == [0, 0]


def _long_dataset(n=1500):
    """Several write blocks: an 8 KiB column keeps blocks to a few hundred elements."""
    return tf.data.Dataset.range(n).map(lambda i: {"i": i, "s": tf.strings.as_string(i), "v": tf.range(i % 5), "pad": tf.zeros([2048])})


def test_num_shards_keep_the_order(tmp_path):
    dataset = _long_dataset()
    manifest = _round_trip(tmp_path, dataset, num_shards=2, compression="GZIP")
    d = manifest.details
    assert d["files"] == ["data-00000-of-00002.tfrecord.gz", "data-00001-of-00002.tfrecord.gz"]
    assert d["cycle_length"] == 2 and sum(d["records_per_file"]) == 1500
    assert -(-1500 // d["block_length"]) >= 3  # at least one shard holds two blocks


def test_more_shards_than_blocks(tmp_path):
    manifest = _round_trip(tmp_path, tf.data.Dataset.range(10), num_shards=4)
    assert manifest.details["records_per_file"] == [10, 0, 0, 0]


def test_shard_bytes_fill_files_in_order(tmp_path):
    manifest = _round_trip(tmp_path, _long_dataset(), shard_bytes=1000, compression="ZLIB")
    d = manifest.details
    # files fill one after another (cycle 1), each closed once it passes shard_bytes; order checked by _round_trip
    assert 3 <= len(d["files"]) <= -(-1500 // d["block_length"]) and d["cycle_length"] == 1
    assert d["files"][0] == f"data-00000-of-{len(d['files']):05d}.tfrecord.zlib"
    assert [f.path for f in manifest.files] == d["files"] + ["record_lengths.npy"]  # the record index (framing.INDEX) sorts last


@pytest.mark.parametrize("compression", ["GZIP", "ZLIB", "gzip"])
def test_compression(tmp_path, compression):
    dataset = tf.data.Dataset.from_tensor_slices({"x": np.zeros((3000, 16), np.float32), "s": np.array(STRINGS[:5] * 600, object)})
    plain = _save(dataset, tmp_path / "plain")
    manifest = _round_trip(tmp_path, dataset, compression=compression)
    assert manifest.options["compression"] == compression.upper()
    assert manifest.total_bytes < plain.total_bytes // 4
    first = (version_dir(tmp_path / "art") / manifest.details["files"][0]).read_bytes()
    assert first[:2] == (b"\x1f\x8b" if compression.upper() == "GZIP" else b"\x78\x9c")


def test_clashing_feature_names_refused(tmp_path):
    dataset = tf.data.Dataset.range(3).map(lambda i: {"x": tf.range(i), "x#shape": tf.reshape(i, [1])})
    with pytest.raises(da.UnsupportedDatasetError, match="'x#shape' would occur twice"):
        _save(dataset, tmp_path / "art")
    assert not (tmp_path / "art").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"compresion": "GZIP"}, "no option 'compresion'"),
        ({"compression": "LZ4"}, "compression='LZ4'"),
        ({"num_shards": 0}, "num_shards=0"),
        ({"num_shards": True}, "num_shards=True"),
        ({"shard_bytes": -5}, "shard_bytes=-5"),
        ({"shard_bytes": 1.5}, "shard_bytes=1.5"),
        ({"num_shards": 2, "shard_bytes": 100}, "not both"),
    ],
)
def test_bad_options_refused_before_writing(tmp_path, options, message):
    with pytest.raises(da.UnsupportedDatasetError, match=re.escape(message)):
        _save(tf.data.Dataset.range(3), tmp_path / "art", **options)
    assert not (tmp_path / "art").exists()


def test_records_are_standard_examples(tmp_path):
    """Records parse with protobuf itself, feature by feature as documented; TF's reader accepts every CRC."""
    big = [b"z" * 70000, b"", b"q" * 130]  # uneven strings take the TF gather path; lengths of 1-3 varint bytes
    ints = np.array([[0, -1], [2**63 - 1, -(2**63)], [127, 128]], np.int64)
    columns = {"s": np.array(big, object), "i": ints, "f": np.float32([[1.5], [-0.0], [3]]), "h": np.float16([1, 2, 3])}
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    dataset = tf.data.Dataset.zip((dataset, tf.data.Dataset.range(3).map(lambda i: tf.range(i * 200))))
    manifest = _save(dataset, tmp_path / "art")
    assert {f["name"]: (f["kind"], f["encoding"], f["shape_feature"]) for f in manifest.details["features"]} == {
        "0/f": ("float", "native", None),
        "0/h": ("bytes", "raw", None),
        "0/i": ("int64", "native", None),
        "0/s": ("bytes", "native", None),
        "1": ("int64", "native", "1#shape"),
    }
    records = list(tf.data.TFRecordDataset(str(version_dir(tmp_path / "art") / manifest.details["files"][0])).as_numpy_iterator())
    assert len(records) == 3
    for k, record in enumerate(records):
        f = tf.train.Example.FromString(record).features.feature
        assert list(f["0/s"].bytes_list.value) == [big[k]]
        assert list(f["0/i"].int64_list.value) == ints[k].tolist()
        assert np.float32(f["0/f"].float_list.value).tobytes() == np.float32([[1.5], [-0.0], [3]])[k].tobytes()
        assert list(f["0/h"].bytes_list.value) == [np.float16(k + 1).tobytes()]
        assert list(f["1"].int64_list.value) == list(range(k * 200)) and list(f["1#shape"].int64_list.value) == [k * 200]


# The plain-TensorFlow reader of docs/tfrecord.md, verbatim (test_doc_snippet_is_this_code keeps them equal).
def read_tfrecord_artifact(path):
    """A dataset of {column name: tensor}, in the saved order, using TensorFlow alone."""
    with open(f"{path}/manifest.json") as f:
        details = json.load(f)["details"]
    kinds = {"int64": tf.int64, "float": tf.float32, "bytes": tf.string}
    spec = {}
    for feat in details["features"]:
        if feat["encoding"] == "raw":
            spec[feat["name"]] = tf.io.FixedLenFeature([], tf.string)
        elif feat["shape_feature"] is None:
            spec[feat["name"]] = tf.io.FixedLenFeature(feat["shape"], kinds[feat["kind"]])
        else:
            spec[feat["name"]] = tf.io.VarLenFeature(kinds[feat["kind"]])
        if feat["shape_feature"] is not None:
            spec[feat["shape_feature"]] = tf.io.FixedLenFeature([len(feat["shape"])], tf.int64)

    def decode(record):
        parsed = tf.io.parse_single_example(record, spec)
        out = {}
        for feat in details["features"]:
            value = parsed[feat["name"]]
            if isinstance(value, tf.SparseTensor):
                value = value.values
            if feat["encoding"] == "raw":
                dtype = tf.as_dtype(feat["dtype"])
                if dtype in (tf.uint32, tf.uint64):  # decode_raw lacks these: read signed, then bitcast
                    value = tf.bitcast(tf.io.decode_raw(value, tf.int32 if dtype == tf.uint32 else tf.int64), dtype)
                else:
                    value = tf.io.decode_raw(value, dtype)
            shape = feat["shape"] if feat["shape_feature"] is None else parsed[feat["shape_feature"]]
            out[feat["name"]] = tf.reshape(value, shape)
        return out

    files = [f"{path}/{name}" for name in details["files"]]
    records = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=details["compression"] or ""),
        cycle_length=details["cycle_length"],
        block_length=details["block_length"],
    )
    return records.map(decode)


def test_doc_snippet_is_this_code():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    snippet = next(b for b in blocks if "def read_tfrecord_artifact" in b)
    assert inspect.getsource(read_tfrecord_artifact) in snippet


@pytest.mark.parametrize("options", [{}, {"num_shards": 3, "compression": "GZIP"}])
def test_plain_tensorflow_reader(tmp_path, options):
    n = 1500
    dataset = tf.data.Dataset.range(n).map(
        lambda i: {
            "label": i,
            "x": tf.fill([2, 3], tf.cast(i, tf.float32)),
            "u": tf.cast(tf.fill([2], i), tf.uint64) * 3,
            "name": tf.strings.as_string(i),
            "seq": tf.cast(tf.range(i % 4), tf.int16),
            "rag": tf.RaggedTensor.from_row_lengths(tf.range(i % 3), [i % 3]),
            "pad": tf.zeros([4096], tf.float16),
        }
    )
    block = _save(dataset, tmp_path / "art", **options).details["block_length"]
    assert n > 3 * block
    # the folder of the current version, found as other tools do: current.json names it
    plain = list(read_tfrecord_artifact(str(version_dir(tmp_path / "art"))).as_numpy_iterator())
    assert len(plain) == n
    for k in (0, 1, 5, block - 1, block, 2 * block + 1, n - 1):
        e = plain[k]
        assert e["label"] == k and e["x"].tolist() == [[float(k)] * 3] * 2 and e["u"].dtype == np.uint64 and e["u"].tolist() == [3 * k] * 2
        assert e["name"] == str(k).encode() and e["seq"].dtype == np.int16 and e["seq"].tolist() == list(range(k % 4))
        rag = tf.RaggedTensor.from_nested_row_lengths(e["rag#flat_values"], [e["rag#row_lengths.0"]])
        assert rag.to_list() == [list(range(k % 3))]


def _artifact(tmp_path):
    rng = np.random.default_rng(0)
    dataset = tf.data.Dataset.from_tensor_slices({"image": rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8), "label": np.arange(20)})
    manifest = _save(dataset, tmp_path / "art")
    return tmp_path / "art", version_dir(tmp_path / "art") / manifest.details["files"][0]


def test_flipped_byte_is_reported_and_fails_the_record_crc(tmp_path):
    path, victim = _artifact(tmp_path)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    report = da.verify(path)
    assert not report.ok and any(str(victim) in p and "checksum" in p for p in report.problems), report.problems
    with pytest.raises(tf.errors.DataLossError):  # our CRC-32C framing is checked by TF's reader
        list(tf.data.TFRecordDataset(str(victim)))
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim)) + ".*do not match the checksum"):
        list(da.load(path))


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_truncated_or_missing_file_refused(tmp_path, damage):
    path, victim = _artifact(tmp_path)
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-7])
    else:
        victim.unlink()
    assert not da.verify(path).ok
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim))):
        da.load(path)


def test_manifest_spec_mismatch_refused(tmp_path):
    path, _ = _artifact(tmp_path)

    def edit(doc):
        doc["details"]["features"][0]["encoding"] = "native"

    rewrite_manifest(path, edit)
    with pytest.raises(da.ArtifactError, match="feature spec"):
        da.load(path)


def _crc32c_reference(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_matches_the_definition():
    from dataset_assets.formats._crc import crc_ranges, crc_u64

    buf = np.frombuffer(b"xx123456789", np.uint8)
    assert crc_ranges(buf, [2], [9]).tolist() == [0xE3069283]  # the CRC-32C check value
    rng = np.random.default_rng(3)
    buf = rng.integers(0, 256, 3000, dtype=np.uint8)
    starts = rng.integers(0, 1500, 40)
    lens = np.concatenate([rng.integers(0, 1500, 37), [0, 1, 1500]])
    expected = [_crc32c_reference(buf[a : a + n].tobytes()) for a, n in zip(starts, lens)]
    assert crc_ranges(buf, starts, lens).tolist() == expected
    lengths = np.array([0, 1, 300, 2**40 + 7], np.uint64)
    assert crc_u64(lengths).tolist() == [_crc32c_reference(int(v).to_bytes(8, "little")) for v in lengths]


@pytest.mark.parametrize("case", sorted(CASES))
def test_stored_streams_hash_to_the_manifest_fingerprint_without_decoding(tmp_path, case):
    """What a commit of parts hashes (`parts.commit_parts`): the streams straight from the records equal what the writer hashed."""
    from dataset_assets.api import open_artifact
    from dataset_assets.fingerprint import Fingerprinter
    from dataset_assets.formats import tfrecord

    manifest = da.save(CASES[case](), tmp_path / "art", format="tfrecord", shard_bytes=1 << 12)
    fingerprinter = Fingerprinter(manifest.layout())
    for batch in tfrecord.stored_streams(open_artifact(tmp_path / "art").directory, manifest, manifest.layout()):
        fingerprinter.update(batch)
    assert (fingerprinter.hexdigest(), fingerprinter.count) == (manifest.fingerprint, manifest.num_elements)
