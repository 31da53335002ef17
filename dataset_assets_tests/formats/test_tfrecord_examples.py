"""The protobuf decoder of a few tfrecord records (single reads of `open`): the streams TensorFlow's parse gives,
and a record that does not hold what the features say raised as ArtifactError naming the feature."""

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.columns import Layout
from dataset_assets.formats.tfrecord.examples import ExampleDecoder
from dataset_assets.formats.tfrecord.reader import _to_streams, library_spec

SPEC = {
    "vec": tf.TensorSpec([3], tf.float32),
    "half": tf.TensorSpec([2], tf.float16),
    "tokens": tf.TensorSpec([None], tf.int64),
    "name": tf.TensorSpec([], tf.string),
    "words": tf.TensorSpec([None, 2], tf.string),
}


def elements():
    return [
        {"vec": [1.5, -2, 3], "half": [0.5, 7], "tokens": [1, 2, 3], "name": b"a", "words": [[b"x", b"yz"]]},
        {"vec": [0, 0, 1e-30], "half": [1, 2], "tokens": [], "name": b"", "words": np.zeros((0, 2), object)},
        {"vec": [4, 5, 6], "half": [-1, 0], "tokens": [9] * 40, "name": b"\x00q", "words": [[b"", b"p"], [b"r", b"s"]]},
    ]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    ds = tf.data.Dataset.from_generator(elements, output_signature=SPEC)
    path = tmp_path_factory.mktemp("ex") / "art"
    da.save(ds, path, format="tfrecord")
    files = [p for p in sorted(path.rglob("*")) if p.is_file() and ".tfrecord" in p.name]
    return Layout(SPEC), [bytes(r.numpy()) for f in files for r in tf.data.TFRecordDataset(str(f))]


def names(layout):
    return [c.name for c in layout.columns]


@pytest.mark.parametrize("which", [[0], [1], [2], [0, 1, 2], [2, 0]])
def test_streams_equal_tensorflows_parse(records, which):
    layout, raw = records
    chosen = [raw[i] for i in which]
    want = _to_streams(layout, names(layout), tf.io.parse_example(tf.constant(chosen), library_spec(layout, names(layout))), tf.constant(chosen))
    got = ExampleDecoder(layout, names(layout)).decode(chosen, "here")
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        value = value.numpy()
        assert np.asarray(got[key]).dtype == np.asarray(value, dtype=object if isinstance(value, bytes) else None).dtype, key
        assert np.array_equal(np.asarray(got[key]), np.asarray(value, dtype=object if isinstance(value, bytes) else None)), key


def _example(features: dict) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _good() -> dict:
    return {
        "vec": tf.train.Feature(float_list=tf.train.FloatList(value=[1, 2, 3])),
        "half": tf.train.Feature(bytes_list=tf.train.BytesList(value=[np.zeros(2, np.float16).tobytes()])),
        "tokens": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
        "tokens#shape": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
        "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"n"])),
        "words": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"])),
        "words#shape": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2])),
    }


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda f: f.pop("vec"), "'vec' of a record is missing"),
        (lambda f: f.update(vec=tf.train.Feature(float_list=tf.train.FloatList(value=[1, 2]))), "'vec' of a record holds 2 values, its shape \\[3\\] has 3"),
        (lambda f: f.update(half=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ab", b"cd"]))), "'half' of a record does not hold one bytes value"),
        (lambda f: f.update(half=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"abc"]))), "'half' of a record holds 3 bytes, not whole float16 values"),
        (lambda f: f.update(half=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"abcdef"]))), "'half' of a record holds 3 values"),
        (lambda f: f.pop("tokens#shape"), "'tokens' of a record its shape feature holds \\[\\]"),
        (lambda f: f.update(name=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"]))), "'name' of a record holds 2 values"),
    ],
)
def test_a_record_unlike_its_features_is_refused_naming_the_feature(change, message):
    layout = Layout(SPEC)
    features = _good()
    vec = next(c for c in layout.columns if c.name == "vec")
    assert ExampleDecoder(layout, names(layout)).decode([_example(features)], "f.tfrecord")[vec.key("values")].tolist() == [[1, 2, 3]]
    change(features)
    with pytest.raises(da.ArtifactError, match=f"f.tfrecord: feature {message}"):
        ExampleDecoder(layout, names(layout)).decode([_example(features)], "f.tfrecord")


def test_bytes_that_are_no_example_are_refused():
    layout = Layout(SPEC)
    with pytest.raises(da.ArtifactError, match="f.tfrecord: record 0 of the request is not a tf.train.Example"):
        ExampleDecoder(layout, names(layout)).decode([b"\xff\xff\xff"], "f.tfrecord")
