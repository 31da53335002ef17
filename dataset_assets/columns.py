"""Columnar view of a dataset: the one encoding every format and the fingerprint share.

Each leaf of an element becomes one or more *columns* (a ragged leaf becomes its row
lengths and flat values). A column is stored as up to three *streams*, each a flat
array that grows along its first axis as elements are appended:

- ``values``:  fixed shape -> ``[n, *shape]``; variable shape -> every element
  flattened and concatenated; strings -> their bytes concatenated (uint8).
- ``shapes``:  ``[n, rank]`` int64, only when the shape varies between elements.
- ``lengths``: byte length of every string, only for string columns.

Encoding and decoding run batched inside TensorFlow; Python sees one batch at a time.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import tensorflow as tf

from .spec import leaf_paths

STREAMS = ("values", "shapes", "lengths")
COUNT = "__count__"  # number of elements in a batch, beside the stream arrays


@dataclass(frozen=True)
class Column:
    index: int
    name: str  # e.g. "image", "meta/tokens#flat_values"
    dtype: tf.DType
    shape: tuple  # per-element static shape, None where it varies

    @property
    def fixed(self) -> bool:
        return all(d is not None for d in self.shape)

    @property
    def empty(self) -> bool:
        """Fixed shape with a zero dimension: no values at all (TF's unbatch crashes on these, so they are rebuilt)."""
        return self.fixed and 0 in self.shape

    @property
    def is_string(self) -> bool:
        return self.dtype == tf.string

    @property
    def streams(self) -> tuple[str, ...]:
        return ("values",) + (() if self.fixed else ("shapes",)) + (("lengths",) if self.is_string else ())

    @property
    def storage_dtype(self) -> np.dtype:
        """The numpy dtype of the values stream on disk (no object arrays, no pickle)."""
        if self.is_string:
            return np.dtype(np.uint8)
        if self.dtype == tf.bfloat16:
            return np.dtype(np.uint16)
        return np.dtype(self.dtype.as_numpy_dtype)

    def key(self, stream: str) -> str:
        """A file-system safe, unique name for one stream of this column."""
        return _stream_key(self.index, self.name, stream)

    def stream_dtype(self, stream: str) -> np.dtype:
        return self.storage_dtype if stream == "values" else np.dtype(np.int64)

    def stream_rows(self, stream: str, num_elements: int | None) -> int | None:
        """Rows a stream will have for `num_elements` elements, where that is known before writing."""
        if num_elements is None or (stream == "values" and (self.is_string or not self.fixed)):
            return None
        if stream == "lengths":
            return num_elements * int(np.prod(self.shape, dtype=np.int64)) if self.fixed else None
        return num_elements

    def stream_inner_shape(self, stream: str) -> tuple:
        if stream == "values":
            return tuple(self.shape) if self.fixed and not self.is_string else ()
        if stream == "shapes":
            return (len(self.shape),)
        return ()


@dataclass(frozen=True)
class Leaf:
    path: str
    spec: Any
    columns: tuple[Column, ...]

    @property
    def ragged_rank(self) -> int | None:
        return self.spec.ragged_rank if isinstance(self.spec, tf.RaggedTensorSpec) else None


class Layout:
    """How an element_spec maps onto columns; built from the spec alone."""

    def __init__(self, element_spec: Any):
        self.element_spec = element_spec
        self.leaves: list[Leaf] = []
        columns: list[Column] = []
        for path, spec in leaf_paths(element_spec):
            cols = []
            for name, dtype, shape in _leaf_columns(path, spec):
                cols.append(Column(len(columns) + len(cols), name, dtype, shape))
            columns += cols
            self.leaves.append(Leaf(path, spec, tuple(cols)))
        self.columns: tuple[Column, ...] = tuple(columns)

    @property
    def all_fixed(self) -> bool:
        return all(c.fixed for c in self.columns)

    def stream_keys(self) -> list[tuple[Column, str]]:
        return [(c, s) for c in self.columns for s in c.streams]

    def fixed_bytes_per_element(self) -> int:
        """Bytes of one element's fixed-size numeric columns (variable ones count as 256 bytes)."""
        total = 0
        for c in self.columns:
            if c.fixed and not c.is_string:
                total += int(np.prod(c.shape, dtype=np.int64)) * c.storage_dtype.itemsize
            else:
                total += 256
        return max(total, 1)

    # --- element <-> columns, inside tf.data -------------------------------------------------

    def to_columns(self, element) -> tuple:
        leaves = tf.nest.flatten(element, expand_composites=False)
        out = []
        for leaf, value in zip(self.leaves, leaves):
            if leaf.ragged_rank:  # ragged_rank >= 1: row lengths per level, then flat values
                out += list(value.nested_row_lengths()) + [value.flat_values]
            else:
                out.append(value)
        return tuple(out)

    @property
    def batches_directly(self) -> bool:
        """Whether `Dataset.batch` alone turns elements into this layout's columns.

        True when every leaf is a fixed-shape tensor or a ragged_rank-0 RaggedTensor with
        fixed inner dims (a batch of those is row lengths + flat values). Other layouts go
        through a per-element map first, which costs ~40 us per element on RaggedTensor slices.
        """
        for leaf in self.leaves:
            shape = leaf.columns[0].shape
            if leaf.ragged_rank is None and leaf.columns[0].fixed:
                continue
            if leaf.ragged_rank == 0 and len(shape) >= 1 and all(d is not None for d in shape[1:]):
                continue
            return False
        return True

    @property
    def batches_as_streams(self) -> bool:
        """Whether a `Dataset.batch` of elements is already this layout's streams, leaf for column.

        True when every leaf is a fixed-shape numeric tensor (bfloat16 aside, stored as its bits).
        """
        return all(
            leaf.ragged_rank is None and col.fixed and not col.is_string and col.dtype != tf.bfloat16
            for leaf in self.leaves
            for col in leaf.columns
        )

    def encode_batch(self, *leaves) -> dict:
        """Streams of one `Dataset.batch` of elements, its leaves flattened; needs `batches_directly`."""
        first = leaves[0]
        count = first.nrows(out_type=tf.int64) if isinstance(first, tf.RaggedTensor) else tf.shape(first, out_type=tf.int64)[0]
        streams = {COUNT: count}
        for leaf, x in zip(self.leaves, leaves):
            col = leaf.columns[0]
            if isinstance(x, tf.RaggedTensor):  # a batch of ragged_rank-0 leaves: one row per element
                if col.fixed:
                    x = tf.reshape(x.flat_values, [-1, *col.shape])
                else:
                    rows = tf.cast(x.row_lengths(), tf.int64)[:, None]
                    inner = tf.tile(tf.constant([col.shape[1:]], tf.int64, shape=[1, len(col.shape) - 1]), [tf.shape(rows)[0], 1])
                    streams[col.key("shapes")] = tf.concat([rows, inner], axis=1)
                    x = tf.reshape(x.flat_values, [-1])
            streams.update(_value_streams(col, x))
        return streams

    def encode_batch_fn(self) -> Callable:
        """Dataset of elements -> dataset of dicts of stream tensors, one dict per batch."""

        def per_element(*cols):
            out = []
            for col, x in zip(self.columns, cols):
                out.append(x if col.fixed else (tf.reshape(x, [-1]), tf.shape(x, out_type=tf.int64)))
            return tuple(out)

        def per_batch(*cols):
            first = cols[0] if self.columns[0].fixed else cols[0][1]
            streams = {COUNT: tf.shape(first, out_type=tf.int64)[0]}
            for col, x in zip(self.columns, cols):
                if not col.fixed:  # a shape like [None, 0] flattens to a static [0]: ragged_batch keeps that dense
                    values = x[0].flat_values if isinstance(x[0], tf.RaggedTensor) else tf.reshape(x[0], [-1])
                    x, streams[col.key("shapes")] = values, x[1]
                streams.update(_value_streams(col, x))
            return streams

        def apply(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
            if self.batches_directly:
                return map_plain(dataset.batch(batch_size), lambda *b: self.encode_batch(*tf.nest.flatten(b))).prefetch(2)
            ds = map_plain(dataset, lambda *e: self.to_columns(e[0] if len(e) == 1 else e))
            if self.all_fixed:
                ds = ds.batch(batch_size)
            else:
                ds = map_plain(ds, per_element).ragged_batch(batch_size)
            return map_plain(ds, per_batch).prefetch(2)

        return apply

    # --- columns -> element --------------------------------------------------------------------

    def decode_chunk(self, streams: dict) -> Any:
        """A chunk of k elements as stream tensors -> a nested structure that `unbatch`es into elements.

        Leaves of variable dense shape come out as (flat values, shape) pairs that
        `finish_element` reshapes; everything else is final after `unbatch`.
        """
        count = streams[COUNT]
        per_column = {}
        for col in self.columns:
            values = streams[col.key("values")]
            shapes = streams.get(col.key("shapes"))
            if col.is_string:
                lengths = streams[col.key("lengths")]
                offsets = tf.math.cumsum(lengths, exclusive=True)
                values = tf.strings.substr(values, offsets, lengths)
            elif col.dtype == tf.bfloat16:
                values = tf.bitcast(values, tf.bfloat16)
            if col.fixed:
                per_column[col.index] = tf.reshape(values, [count, *col.shape])
            else:
                sizes = tf.reduce_prod(shapes, axis=1)
                per_column[col.index] = (values, sizes, shapes)
        leaves = []
        for leaf in self.leaves:
            cols = leaf.columns
            if leaf.ragged_rank is None:  # dense
                col = cols[0]
                if col.empty:
                    leaves.append(tf.zeros([count], tf.int8))  # placeholder; finish_element makes the empty tensor
                elif col.fixed:
                    leaves.append(per_column[col.index])
                else:
                    values, sizes, shapes = per_column[col.index]
                    leaves.append((tf.RaggedTensor.from_row_lengths(values, sizes, validate=False), shapes))
            elif leaf.ragged_rank == 0:  # unbatching a ragged chunk yields exactly this spec
                values, sizes, shapes = per_column[cols[0].index]
                inner = list(leaf.spec.shape[1:])
                lengths = tf.cast(shapes[:, 0], leaf.spec.row_splits_dtype)
                leaves.append(tf.RaggedTensor.from_row_lengths(_rows(values, inner, lengths), lengths, validate=False))
            else:
                leaves.append(self._ragged_chunk(leaf, per_column))
        return tuple(leaves) if self.needs_finish else self.pack(leaves)

    def _ragged_chunk(self, leaf: Leaf, per_column: dict) -> tf.RaggedTensor:
        *row_cols, flat_col = leaf.columns
        inner = list(leaf.spec.shape[leaf.ragged_rank + 1 :])
        flat = per_column[flat_col.index]
        lengths = []
        for col in row_cols:
            part = per_column[col.index]
            lengths.append(part[0] if isinstance(part, tuple) else tf.reshape(part, [-1]))
        flat = _rows(flat[0] if isinstance(flat, tuple) else flat, inner, lengths[-1])
        rt = tf.RaggedTensor.from_nested_row_lengths(flat, lengths, validate=False)
        nrows = leaf.spec.shape[0]
        first = per_column[row_cols[0].index]
        if nrows is None:
            return tf.RaggedTensor.from_row_lengths(rt, tf.cast(first[2][:, 0], rt.row_splits.dtype), validate=False)
        return tf.RaggedTensor.from_uniform_row_length(rt, tf.constant(nrows, rt.row_splits.dtype), validate=False)

    @property
    def needs_finish(self) -> bool:
        return any(leaf.ragged_rank is None and (leaf.columns[0].empty or not leaf.columns[0].fixed) for leaf in self.leaves)

    def finish_element(self, *leaves):
        out = []
        for leaf, value in zip(self.leaves, leaves):
            if leaf.ragged_rank is None and leaf.columns[0].empty:
                value = tf.zeros(leaf.spec.shape, leaf.spec.dtype) if leaf.spec.dtype != tf.string else tf.fill(leaf.spec.shape, "")
            elif leaf.ragged_rank is None and not leaf.columns[0].fixed:
                flat, shape = value
                value = tf.ensure_shape(tf.reshape(flat, shape), leaf.spec.shape)
            out.append(value)
        return self.pack(out)

    @property
    def needs_split(self) -> bool:
        """A per-element map would turn ragged_rank-0 leaves into plain tensors (another element_spec)."""
        return self.needs_finish and len(self.leaves) > 1 and any(leaf.ragged_rank == 0 for leaf in self.leaves)

    @functools.cached_property
    def leaf_layouts(self) -> list[tuple["Layout", dict[str, str]]]:
        """`per_leaf`, built once."""
        return list(self.per_leaf())

    def per_leaf(self) -> Iterator[tuple["Layout", dict[str, str]]]:
        """A layout per leaf, with the map from its stream keys to this layout's."""
        for leaf in self.leaves:
            sub = Layout(leaf.spec)
            yield sub, {sc.key(s): pc.key(s) for sc, pc in zip(sub.columns, leaf.columns) for s in sc.streams}

    def pack(self, leaves):
        return tf.nest.pack_sequence_as(self.element_spec, list(leaves), expand_composites=False)


@functools.lru_cache(maxsize=4096)  # random access asks for the keys of every column on every read
def _stream_key(index: int, name: str, stream: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]
    return f"c{index:03d}.{safe}.{stream}"


def _rows(values: tf.Tensor, inner: list, lengths: tf.Tensor) -> tf.Tensor:
    """Flat `values` as rows of shape `inner`, as many as `lengths` add up to.

    The count is given, not inferred with -1: where `inner` holds a 0 every row is empty and
    reshape cannot infer it (it made 1 row of 5, and loading failed on data saved fine).
    """
    if 0 not in inner:
        return tf.reshape(values, [-1, *inner])
    return tf.reshape(values, tf.concat([tf.reshape(tf.reduce_sum(tf.cast(lengths, tf.int64)), [1]), tf.constant(inner, tf.int64)], 0))


def _value_streams(col: Column, values: tf.Tensor) -> dict:
    """The `values` (and for strings `lengths`) streams of a batch of one column's values."""
    if col.is_string:
        flat = tf.reshape(values, [-1])
        return {col.key("lengths"): tf.cast(tf.strings.length(flat), tf.int64), col.key("values"): tf.io.decode_raw(tf.strings.reduce_join(flat), tf.uint8)}
    if col.dtype == tf.bfloat16:
        values = tf.bitcast(values, tf.uint16)
    return {col.key("values"): values}


def _leaf_columns(path: str, spec) -> list[tuple[str, tf.DType, tuple]]:
    shape = tuple(spec.shape.as_list())
    if isinstance(spec, tf.TensorSpec):
        return [(path, spec.dtype, shape)]
    k = spec.ragged_rank
    if k == 0:
        return [(path, spec.dtype, shape)]
    cols = []
    for level in range(k):
        cols.append((f"{path}#row_lengths.{level}", spec.row_splits_dtype, (shape[0] if level == 0 else None,)))
    cols.append((f"{path}#flat_values", spec.dtype, (None, *shape[k + 1 :])))
    return cols


def map_plain(dataset: tf.data.Dataset, fn: Callable) -> tf.data.Dataset:
    """`Dataset.map` for the library's own functions, in parallel and in order.

    They are plain TF ops with no Python control flow on tensors, so AutoGraph's source
    conversion is skipped: it cost ~0.3 s per pipeline built (0.47 s -> 0.15 s to load and
    iterate 10,000 images from npy, benchmarks/ `--patch benchmarks.patches:no_autograph`).
    """
    return dataset.map(tf.autograph.experimental.do_not_convert(fn), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def batch_size_for(layout: Layout, target_bytes: int = 8 << 20, dataset: tf.data.Dataset | None = None) -> int:
    """Elements per batch so a batch holds about `target_bytes`.

    Variable-size columns, and strings (a fixed shape says nothing of their length), have no
    size in the spec: given the dataset, the first element is measured (twice its size is
    assumed), so 1 MB elements do not get batches of thousands (encoded images as scalar strings
    got 32,768 to a batch: 650 MB of 20 KB strings).
    """
    per_element = layout.fixed_bytes_per_element()
    if dataset is not None and (not layout.all_fixed or any(col.is_string for col in layout.columns)):
        for first in dataset.take(1):
            per_element = max(per_element, 2 * _nbytes(first))
    return int(min(max(target_bytes // per_element, 1), 1 << 16))


def _nbytes(element) -> int:
    total = 0
    for x in tf.nest.flatten(element, expand_composites=True):
        total += int(tf.reduce_sum(tf.strings.length(x))) if x.dtype == tf.string else x.numpy().nbytes
    return total


def iter_batches(dataset: tf.data.Dataset, layout: Layout, batch_size: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Stream a dataset as numpy stream arrays, one dict per batch."""
    batch_size = batch_size or batch_size_for(layout, dataset=dataset)
    if layout.batches_as_streams:
        # no map to trace: it was a fifth of a 0.27 s tfdata save of 10,000 images, for no work
        keys = [col.key("values") for col in layout.columns]
        for batch in dataset.batch(batch_size).prefetch(2):
            values = [x.numpy() for x in tf.nest.flatten(batch)]
            yield {COUNT: np.int64(len(values[0])), **dict(zip(keys, values))}
        return
    for batch in layout.encode_batch_fn()(dataset, batch_size):
        yield {k: v.numpy() for k, v in batch.items()}
