"""tfdata's own snapshot writer: byte for byte what TensorFlow's save writes, read by TensorFlow's load, without TF's save."""

import threading

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import snapshot_pb2

import dataset_assets as da
from dataset_assets.columns import Layout
from dataset_assets.formats.tfdata import snapshot, tf_save
from dataset_assets_tests.formats.test_hdf5 import CASES, assert_same_elements
from dataset_assets_tests.helpers import version_dir

LONG = b"y" * 300  # a two-byte varint length


def _rng():
    return np.random.default_rng(3)


DENSE = {
    "fixed_float32": lambda: tf.data.Dataset.from_tensor_slices(_rng().standard_normal((40, 4, 3)).astype(np.float32)),
    "scalars": lambda: tf.data.Dataset.from_tensor_slices({"i": np.arange(-20, 20), "b": np.arange(40) % 3 == 0, "u": np.arange(40, dtype=np.uint64) << 60}),
    "half_floats": lambda: tf.data.Dataset.from_tensor_slices((np.linspace(-2, 2, 40).astype(np.float16), tf.cast(np.linspace(0, 9, 40), tf.bfloat16))),
    "images": lambda: tf.data.Dataset.from_tensor_slices(_rng().integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)),
    # variable shapes of one and two dimensions, zero-size ones among them (a dim of 0 and of 200: one- and two-byte sizes)
    "variable_2d": lambda: tf.data.Dataset.range(8).map(lambda i: tf.zeros(tf.stack([i % 3, 200 * (i % 2)]), tf.int32) + tf.cast(i, tf.int32)),
    "strings": lambda: tf.data.Dataset.from_tensor_slices(np.array([b"", b"a", LONG, b"\x00\xff", b"tail\x00"] * 3, dtype=object)),
    "string_matrix": lambda: tf.data.Dataset.range(6).map(lambda i: tf.fill(tf.stack([i % 3, 2]), tf.strings.as_string(i * 1000))),
    "zero_size": lambda: tf.data.Dataset.from_tensor_slices(np.zeros((5, 0, 3), np.int16)),
    # slices of RaggedTensors: ragged leaves of ragged_rank 0, stored by TF as variants with typed fields
    "ragged0_dtypes": lambda: tf.data.Dataset.from_tensor_slices(_ragged_rows()),
    "ragged0_beside_variable": CASES["ragged0_beside_variable"],
}


def _ragged_rows():
    lengths = [2, 0, 3, 1, 4]
    rng = np.random.default_rng(4)

    def ragged(values):
        return tf.RaggedTensor.from_row_lengths(values, lengths)

    numbers = {
        name: ragged(tf.constant(rng.integers(-300, 300, 10) if name.startswith("int") else rng.integers(0, 300, 10), dtype=name))
        for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
    }
    floats = {name: ragged(tf.constant(rng.standard_normal(10) * 1e3, dtype=name)) for name in ("float16", "bfloat16", "float32", "float64")}
    return {
        **numbers,
        **floats,
        "bool": ragged(tf.constant(rng.integers(0, 2, 10) == 1)),
        "bytes": ragged(tf.constant([b"", b"a", LONG, b"\x00", b"z", b"", b"qq", b"r", b"s", b"t"])),
        "matrix": tf.RaggedTensor.from_row_lengths(tf.reshape(tf.range(30, dtype=tf.float32), [10, 3]), lengths),
    }


def _refuse(*_):
    raise AssertionError("TensorFlow's Dataset.save (or a read back through its reader) was used")


def _save(dataset, path, **options):
    return da.save(dataset, path, format="tfdata", **options)


def _snapshot_files(art):
    return sorted((version_dir(art) / "data").rglob("*.snapshot"))


@pytest.mark.parametrize("case", sorted(DENSE))
def test_records_are_what_tensorflows_save_writes(tmp_path, monkeypatch, case):
    dataset = DENSE[case]()
    dataset.save(str(tmp_path / "theirs"))
    monkeypatch.setattr(tf_save, "save", _refuse)  # ours: written without TensorFlow's save
    _save(dataset, tmp_path / "art")
    (ours,) = _snapshot_files(tmp_path / "art")
    (theirs,) = sorted((tmp_path / "theirs").rglob("*.snapshot"))
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(ours))]  # TF's reader checks every CRC
    assert len(records) == len(list(dataset)) * len(tf.nest.flatten(dataset.element_spec))
    assert records == [r.numpy() for r in tf.data.TFRecordDataset(str(theirs))]
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("case", sorted(DENSE))
def test_tensorflow_loads_it_on_its_own(tmp_path, case):
    dataset = DENSE[case]()
    _save(dataset, tmp_path / "art", num_shards=3)
    target = version_dir(tmp_path / "art") / "data"
    # no element_spec given: TF reads it from our dataset_spec.pb, and the shards through its default reader
    loaded = tf.data.Dataset.load(str(target), reader_func=lambda shards: shards.interleave(lambda s: s, cycle_length=3, block_length=1))
    assert_same_elements(loaded, dataset)


def test_metadata_is_what_tensorflow_writes(tmp_path):
    dataset = DENSE["scalars"]()
    dataset.save(str(tmp_path / "theirs"))
    _save(dataset, tmp_path / "art")

    def metadata(folder):
        record = snapshot_pb2.SnapshotMetadataRecord()
        record.ParseFromString((folder / "snapshot.metadata").read_bytes())
        return record

    theirs, ours = metadata(tmp_path / "theirs"), metadata(version_dir(tmp_path / "art") / "data")
    assert ours.run_id != theirs.run_id and ours.creation_timestamp > 0
    ours.run_id, ours.creation_timestamp = theirs.run_id, theirs.creation_timestamp
    assert ours == theirs
    assert (version_dir(tmp_path / "art") / "data" / "dataset_spec.pb").read_bytes() == (tmp_path / "theirs" / "dataset_spec.pb").read_bytes()


@pytest.mark.parametrize("shards, compression", [(1, None), (4, None), (3, "GZIP")])
def test_written_without_tensorflows_save(tmp_path, monkeypatch, shards, compression):
    monkeypatch.setattr(tf_save, "save", _refuse)
    monkeypatch.setattr(tf_save, "load", _refuse)
    n = 10_007  # several write batches, a last one short, shards of unequal length
    dataset = tf.data.Dataset.from_tensor_slices({"x": np.arange(n * 300, dtype=np.float32).reshape(n, 300), "s": tf.strings.as_string(np.arange(n))})
    manifest = _save(dataset, tmp_path / "art", num_shards=shards, compression=compression)
    monkeypatch.undo()
    assert manifest.fingerprint == da.fingerprint(dataset)
    assert len(_snapshot_files(tmp_path / "art")) == shards
    assert [int(e["s"]) for e in da.load(tmp_path / "art").as_numpy_iterator()] == list(range(n))
    assert da.verify(tmp_path / "art", dataset).ok


@pytest.mark.parametrize("case", sorted(CASES))
def test_only_ragged_leaves_of_ragged_rank_1_or_more_go_through_tensorflows_save(case):
    layout = Layout(CASES[case]().element_spec)
    deep = any(leaf.ragged_rank for leaf in layout.leaves)
    assert snapshot.writes(layout, {"compression": None, "num_shards": 1}) == (not deep)
    assert deep == (case == "ragged_rank1")


def test_snappy_goes_through_tensorflows_save():
    layout = Layout(DENSE["scalars"]().element_spec)
    assert snapshot.writes(layout, {"compression": "GZIP", "num_shards": 2})
    assert not snapshot.writes(layout, {"compression": "SNAPPY", "num_shards": 1})


def test_a_failed_save_of_many_shards_leaves_no_thread_behind(tmp_path):
    def element(i):
        with tf.control_dependencies([tf.debugging.assert_less(i, tf.constant(200_000, tf.int64), message="source failed")]):
            return tf.identity(i)

    def threads():  # but the two shared threads that sync record files as they are written
        return [t for t in threading.enumerate() if not t.name.startswith("dataset_assets-sync")]

    _save(tf.data.Dataset.range(10), tmp_path / "art")
    before, kept = len(threads()), []
    for _ in range(3):
        with pytest.raises(tf.errors.InvalidArgumentError, match="source failed") as failed:
            _save(tf.data.Dataset.range(300_000).map(element), tmp_path / "art", num_shards=30, overwrite=True)  # fails in its 4th batch
        kept.append(failed)  # an error kept (logged, re-raised later) holds the save's frames, and the files in them
    assert len(threads()) <= before, threads()  # each shard's hashing thread ended with its file
    assert [int(x) for x in da.load(tmp_path / "art")] == list(range(10))
