"""The matrix: every element structure x every format round-trips exactly (pathlist refuses what it can't hold)."""

from dataclasses import dataclass

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements

GENERAL = ("npy", "hdf5", "tfrecord", "tfdata")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")


def _values(dtype: str, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    if dtype == "bfloat16":
        return tf.cast(rng.standard_normal(shape).astype(np.float32), tf.bfloat16)
    if dtype == "string":
        pool = [b"", b"a", b"\xff\xfe\x00bytes", "grüße".encode(), b"x" * 50]
        return np.array([pool[i % len(pool)] for i in rng.integers(0, 5, int(np.prod(shape)))], dtype=object).reshape(shape)
    return rng.standard_normal(shape).astype(dtype)


def _ragged_slices():
    return tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]], dtype=tf.int32))


CASES = {
    "scalar_int64": lambda: tf.data.Dataset.range(7),
    "scalar_float32": lambda: tf.data.Dataset.from_tensor_slices(_values("float32", [5])),
    **{f"rank{r}": (lambda r=r: tf.data.Dataset.from_tensor_slices(_values("float32", [3] + [2] * r))) for r in (1, 2, 3, 4)},
    **{f"dtype_{d}": (lambda d=d: tf.data.Dataset.from_tensor_slices(_values(d, [6, 3]))) for d in INT_DTYPES + FLOAT_DTYPES + ("bool",)},
    "strings": lambda: tf.data.Dataset.from_tensor_slices(_values("string", [10])),
    "string_matrix": lambda: tf.data.Dataset.from_tensor_slices(_values("string", [4, 2, 3])),
    "nested": lambda: tf.data.Dataset.from_tensor_slices(
        {"a": (_values("int32", [4, 2]), {"b": _values("string", [4]), "c": _values("float64", [4])}), "d": _values("bool", [4])}
    ),
    "tuple_pair": lambda: tf.data.Dataset.from_tensor_slices((_values("float32", [5, 8]), _values("int64", [5]))),
    "variable_length": lambda: tf.data.Dataset.range(6).map(lambda i: tf.range(i, dtype=tf.int32) * 3),
    "variable_2d": lambda: tf.data.Dataset.range(1, 5).map(lambda i: tf.ones([i, 2 * i], tf.float64) * tf.cast(i, tf.float64)),
    "variable_strings": lambda: tf.data.Dataset.range(5).map(lambda i: tf.strings.as_string(tf.range(i))),
    "ragged_slices": _ragged_slices,
    "ragged_int32_splits": lambda: tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2], [], [3]], row_splits_dtype=tf.int32)),
    "ragged_rank1": lambda: tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[[1.0], [2.0, 3.0]], [[]], [[4.0, 5.0]]])),
    "ragged_fixed_rows": lambda: tf.data.Dataset.from_tensors(tf.ragged.constant([[1, 2], [3], []])),
    "ragged_in_dict": lambda: tf.data.Dataset.zip({"tokens": _ragged_slices(), "label": tf.data.Dataset.range(4)}),
    "ragged_beside_variable": lambda: tf.data.Dataset.zip(
        {"tokens": _ragged_slices(), "seq": tf.data.Dataset.range(4).map(lambda i: tf.range(i)), "x": tf.data.Dataset.range(4)}
    ),
    "zero_size": lambda: tf.data.Dataset.from_tensor_slices({"e": np.zeros((3, 0, 2), np.float32), "s": np.zeros((3, 0), object).astype(bytes)}),
    # ragged with a 0 in its uniform inner dimensions: every row is empty, only the row lengths tell how many
    "ragged_zero_inner": lambda: tf.data.Dataset.from_tensor_slices(tf.RaggedTensor.from_row_lengths(tf.zeros([5, 0], tf.int32), [2, 0, 3])),
    "ragged_rank1_zero_inner": lambda: tf.data.Dataset.from_tensor_slices(
        tf.RaggedTensor.from_row_lengths(tf.RaggedTensor.from_row_lengths(tf.zeros([6, 0], tf.int32), [1, 0, 2, 3]), [2, 0, 2])
    ),
    "batched_short_last": lambda: tf.data.Dataset.from_tensor_slices(_values("float32", [10, 3])).batch(4),
    "empty": lambda: tf.data.Dataset.from_tensor_slices(_values("float32", [0, 3])),
    "one_element": lambda: tf.data.Dataset.from_tensors({"x": _values("uint8", [2, 2, 3]), "s": tf.constant(b"only")}),
    "large_variable": lambda: tf.data.Dataset.range(1, 4).map(lambda i: tf.ones([i * 400_000], tf.float32)),
    "large_4mb": lambda: tf.data.Dataset.from_tensor_slices(_values("float32", [3, 1024, 1024])),
    "namedtuple_free_dict_keys": lambda: tf.data.Dataset.from_tensor_slices({"weird key/with:chars": _values("int64", [3])}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", GENERAL)
def test_round_trip(tmp_path, fmt, case):
    dataset = CASES[case]()
    manifest = da.save(dataset, tmp_path / "art", format=fmt)
    loaded = da.load(tmp_path / "art")
    assert_same_elements(loaded, dataset)
    assert manifest.num_elements == sum(1 for _ in dataset)
    assert int(loaded.cardinality()) == manifest.num_elements
    report = da.verify(tmp_path / "art", dataset)
    assert report.ok, report.problems


@pytest.mark.parametrize("case", ["scalar_float32", "nested", "ragged_slices", "variable_strings", "empty"])
def test_fingerprint_is_the_same_in_every_lossless_format(tmp_path, case):
    prints = {fmt: da.save(CASES[case](), tmp_path / fmt, format=fmt).fingerprint for fmt in GENERAL}
    assert len(set(prints.values())) == 1, prints
    assert prints["npy"] == da.fingerprint(CASES[case]())


def test_fingerprint_changes_with_content(tmp_path):
    a = tf.data.Dataset.from_tensor_slices(np.arange(5, dtype=np.int64))
    b = tf.data.Dataset.from_tensor_slices(np.array([0, 1, 2, 3, 5], dtype=np.int64))
    c = tf.data.Dataset.from_tensor_slices(np.arange(5, dtype=np.int32))
    assert len({da.fingerprint(a), da.fingerprint(b), da.fingerprint(c)}) == 3


@pytest.mark.parametrize("case", ["scalar_float32", "nested", "string_matrix", "ragged_slices"])
def test_pathlist_refuses_non_image_data_before_writing(tmp_path, case):
    with pytest.raises(da.UnsupportedDatasetError, match="tfrecord|npy|hdf5"):
        da.save(CASES[case](), tmp_path / "art", format="pathlist")
    assert not (tmp_path / "art").exists()
    assert list(tmp_path.iterdir()) == []  # no staging directory left behind either


# --- generated structures -------------------------------------------------------------------------

LEAF_DTYPES = st.sampled_from(INT_DTYPES + ("float16", "float32", "float64", "bool", "string"))


@dataclass(frozen=True)
class LeafSpec:
    dtype: str
    shape: tuple
    variable: bool  # the first dimension varies from element to element


@st.composite
def structures(draw, depth=0):
    if depth >= 2 or draw(st.booleans()):
        rank = draw(st.integers(0, 3))
        return LeafSpec(draw(LEAF_DTYPES), tuple(draw(st.integers(1, 3)) for _ in range(rank)), rank > 0 and draw(st.booleans()))
    if draw(st.booleans()):
        keys = draw(st.lists(st.text("abcxyz_", min_size=1, max_size=4), min_size=1, max_size=3, unique=True))
        return {k: draw(structures(depth + 1)) for k in keys}
    return tuple(draw(st.lists(structures(depth + 1), min_size=1, max_size=3)))


def _build(structure, n: int, seed: int) -> tf.data.Dataset:
    if isinstance(structure, dict):
        return tf.data.Dataset.zip({k: _build(v, n, seed + i) for i, (k, v) in enumerate(structure.items())})
    if isinstance(structure, tuple):
        return tf.data.Dataset.zip(tuple(_build(v, n, seed + i) for i, v in enumerate(structure)))
    dtype, shape = structure.dtype, structure.shape
    if not structure.variable:
        return tf.data.Dataset.from_tensor_slices(_values(dtype, (n,) + shape, seed))
    lengths = np.random.default_rng(seed).integers(0, 4, n)
    flat = _values(dtype, (int(lengths.sum()),) + shape[1:], seed)
    rt = tf.RaggedTensor.from_row_lengths(flat, lengths)
    return tf.data.Dataset.from_tensor_slices(rt).map(lambda x: x)  # dense elements of varying length


@pytest.mark.parametrize("fmt", GENERAL)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(structure=structures(), n=st.integers(0, 5), seed=st.integers(0, 1000))
def test_generated_structures_round_trip(tmp_path_factory, fmt, structure, n, seed):
    dataset = _build(structure, n, seed)
    path = tmp_path_factory.mktemp(fmt) / "art"
    da.save(dataset, path, format=fmt)
    assert_same_elements(da.load(path), dataset)
