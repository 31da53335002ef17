"""The stream arrays of a few elements back to the elements themselves, as NumPy values (random access).

`Layout.decode_chunk` does this inside TensorFlow for `load`; one TensorFlow op costs tens of
microseconds eagerly, so `dataset_assets.open` decodes with numpy instead: fixed-shape leaves
are rows of their values stream, variable-shape ones are cut by their shapes stream, strings
by their lengths (as `bytes`, as `.numpy()` gives them). Ragged leaves keep their structure only
as a `tf.RaggedTensor`, so they alone go through `decode_chunk`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .columns import COUNT, Column, Layout


def decode_rows(layout: Layout, streams: dict) -> list:
    """`streams` ({COUNT: k, stream key: rows}) -> the k elements, each in the element_spec's structure."""
    count = int(streams[COUNT])
    per_leaf = []
    for leaf, (sub, keys) in zip(layout.leaves, layout.per_leaf()):
        if leaf.ragged_rank is not None:
            batch = sub.decode_chunk({COUNT: tf.constant(count, tf.int64), **{k: tf.constant(streams[v]) for k, v in keys.items()}})
            per_leaf.append([batch[j] for j in range(count)])
        else:
            per_leaf.append(_dense(leaf.columns[0], streams, count))
    return [layout.pack([values[j] for values in per_leaf]) for j in range(count)]


def _dense(col: Column, streams: dict, count: int):
    """One dense leaf's values for each of the `count` elements: an array of rows, or a list where shapes vary."""
    values = np.asarray(streams[col.key("values")])
    if col.is_string:
        values = _strings(values, np.asarray(streams[col.key("lengths")], np.int64))
    elif col.dtype == tf.bfloat16:
        values = values.view(tf.bfloat16.as_numpy_dtype)
    if col.fixed:
        return values.reshape(count, *col.shape)
    shapes = np.asarray(streams[col.key("shapes")], np.int64).reshape(count, len(col.shape))
    ends = np.cumsum(np.prod(shapes, axis=1))
    return [values[end - size : end].reshape(shape) for end, size, shape in zip(ends, np.prod(shapes, axis=1), shapes)]


def _strings(blob: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    data = blob.item() if blob.dtype == object else blob.tobytes()
    ends = np.cumsum(lengths).tolist()
    out = np.empty(len(lengths), object)
    out[:] = [data[end - length : end] for end, length in zip(ends, lengths.tolist())]
    return out
