"""The stream arrays of a few elements back to the elements themselves, as NumPy values (random access).

`Layout.decode_chunk` does this inside TensorFlow for `load`; one TensorFlow op costs tens of
microseconds eagerly, so `dataset_assets.open` decodes with numpy instead: fixed-shape leaves
are rows of their values stream, variable-shape ones are cut by their shapes stream, strings
by their lengths (as `bytes`, as `.numpy()` gives them). Ragged leaves (ragged_rank 1 and up) keep
their structure only as a `tf.RaggedTensor`, so they alone go through `decode_chunk`; an element of
ragged_rank 0 is a tensor whose shape varies, an array here.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .columns import COUNT, Layout


class RowDecoder:
    """What to do with each leaf's streams, worked out once per opened artifact: a read of one element costs microseconds.

    `decode(streams)` ({COUNT: k, stream key: rows}) -> the k elements, each in the element_spec's structure.
    """

    def __init__(self, layout: Layout):
        self.layout = layout
        self.pack = _packer(layout.element_spec) or layout.pack
        self.leaves = []
        for leaf, (sub, keys) in zip(layout.leaves, layout.leaf_layouts):
            col = leaf.columns[0]
            if leaf.ragged_rank:  # ragged_rank 0 is a tensor of varying shape: numpy, as a dense leaf
                self.leaves.append(("ragged", sub, keys))
            else:
                view = tf.bfloat16.as_numpy_dtype if col.dtype == tf.bfloat16 else None
                shapes = None if col.fixed else col.key("shapes")
                lengths = col.key("lengths") if col.is_string else None
                self.leaves.append(("dense", col.key("values"), (shapes, lengths, view, tuple(col.shape), len(col.shape))))

    def decode(self, streams: dict) -> list:
        count = int(streams[COUNT])
        per_leaf = []
        for kind, a, b in self.leaves:
            if kind == "ragged":
                batch = a.decode_chunk({COUNT: tf.constant(count, tf.int64), **{k: tf.constant(streams[v]) for k, v in b.items()}})
                per_leaf.append([batch[j] for j in range(count)])
            else:
                per_leaf.append(_dense(streams, count, a, *b))
        if count == 1:
            return [self.pack([values[0] for values in per_leaf])]
        return [self.pack([values[j] for values in per_leaf]) for j in range(count)]


def _dense(streams: dict, count: int, values_key: str, shapes_key, lengths_key, view, shape: tuple, rank: int):
    """One dense leaf's values for each of the `count` elements: an array of rows, or a list where shapes vary."""
    values = streams[values_key]
    if lengths_key is not None:
        values = _strings(np.asarray(values), np.asarray(streams[lengths_key], np.int64))
    elif view is not None:
        values = np.asarray(values).view(view)
    if isinstance(values, np.ndarray) and not values.flags.writeable:  # a view of a record's bytes (tfrecord): the caller's own copy
        values = values.copy()
    if shapes_key is None:
        return np.asarray(values).reshape(count, *shape)
    shapes = np.asarray(streams[shapes_key], np.int64).reshape(count, rank)
    if count == 1:  # one element (`open`'s art[i]): all its values, in its shape
        return [values.reshape(shapes[0])]
    sizes = np.prod(shapes, axis=1)
    ends = np.cumsum(sizes)
    return [values[end - size : end].reshape(dims) for end, size, dims in zip(ends.tolist(), sizes.tolist(), shapes)]


def _strings(blob: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    data = blob.item() if blob.dtype == object else blob.tobytes()
    out = np.empty(len(lengths), object)
    if len(lengths) == 1:  # one string: the whole blob
        out[0] = data
        return out
    ends = np.cumsum(lengths).tolist()
    out[:] = [data[end - length : end] for end, length in zip(ends, lengths.tolist())]
    return out


def _packer(spec):
    """`tf.nest.pack_sequence_as(spec, leaves)` as a plain function, for specs of dicts, tuples, lists and leaves; else None.

    tf.nest costs ~10 us an element (a quarter of a single read): this builds the same structure
    (dict leaves taken in sorted-key order, as tf.nest flattens them) in about 1 us.
    """
    build = _builder(spec)
    if build is None:
        return None
    return lambda leaves: build(iter(leaves))


def _builder(spec):
    if isinstance(spec, (tf.TensorSpec, tf.RaggedTensorSpec)):
        return next
    if type(spec) is dict:
        order = sorted(spec)
        parts = [_builder(spec[k]) for k in order]
        if any(p is None for p in parts):
            return None
        keys = list(spec)

        def build_dict(it):
            values = {k: part(it) for k, part in zip(order, parts)}
            return {k: values[k] for k in keys}

        return build_dict
    if type(spec) in (tuple, list):
        parts = [_builder(x) for x in spec]
        if any(p is None for p in parts):
            return None
        kind = type(spec)
        return lambda it: kind(part(it) for part in parts)
    return None  # namedtuples, attrs, OrderedDicts and other structures: tf.nest
