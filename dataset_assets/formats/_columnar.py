"""Shared by the column-file formats (npy, hdf5): stream batches into per-stream arrays, read them back in chunks."""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

import numpy as np
import tensorflow as tf

from ..columns import COUNT, Layout, iter_batches, map_plain
from ..fingerprint import Fingerprinter
from ..progress import Progress

CHUNK_BYTES = 8 << 20


class StreamSink(Protocol):
    def append(self, array: np.ndarray) -> None: ...
    def close(self) -> None: ...


def write_streams(
    dataset: tf.data.Dataset,
    layout: Layout,
    open_sink: Callable[[str, np.dtype, tuple, int | None], StreamSink],
    fingerprinter: Fingerprinter,
    what: str,
) -> None:
    """Encode `dataset` batch by batch and append each stream to its sink.

    Sinks are opened with the stream's final row count where the dataset's cardinality
    gives it (None otherwise); the count is a promise of the source, so sinks check it.
    """
    n = int(dataset.cardinality())
    n = n if n >= 0 else None
    sinks = {
        col.key(s): open_sink(col.key(s), col.stream_dtype(s), col.stream_inner_shape(s), col.stream_rows(s, n))
        for col, s in layout.stream_keys()
    }
    progress = Progress(what, n)
    try:
        for batch in iter_batches(dataset, layout):
            fingerprinter.update(batch)
            for key, sink in sinks.items():
                sink.append(batch[key])
            progress.update(int(batch[COUNT]), sum(a.nbytes for a in batch.values()))
    finally:
        for sink in sinks.values():
            sink.close()
    progress.done()


def read_streams(layout: Layout, arrays: Mapping[str, object], num_elements: int) -> tf.data.Dataset:
    """A dataset over per-stream arrays (memory maps, HDF5 datasets): chunked reads, unbatched inside TF."""
    if layout.needs_split:  # one pipeline per leaf over its own streams; zip rebuilds the structure
        parts = [read_streams(sub, {k: arrays[v] for k, v in keys.items()}, num_elements) for sub, keys in layout.per_leaf()]
        return tf.data.Dataset.zip(layout.pack(parts))
    bounds = _Bounds(layout, arrays, num_elements)
    bytes_per_element = max(bounds.total_bytes // max(num_elements, 1), 1)
    chunk = int(min(max(CHUNK_BYTES // bytes_per_element, 1), 1 << 16))
    starts = np.arange(0, num_elements, chunk, dtype=np.int64)
    keys = [col.key(s) for col, s in layout.stream_keys()]
    touts = [tf.int64] + [_tf_stream_dtype(col, s) for col, s in layout.stream_keys()]

    def read_chunk(i):
        a = int(starts[i])
        b = min(a + chunk, num_elements)
        return [np.int64(b - a)] + [bounds.slice(key, a, b) for key in keys]

    def to_dict(i):
        out = tf.numpy_function(read_chunk, [i], touts, stateful=False)
        streams = {COUNT: out[0]}
        for (col, s), t in zip(layout.stream_keys(), out[1:]):
            if s == "values" and col.is_string:
                t.set_shape([])
            elif s == "shapes":
                t.set_shape([None, len(col.shape)])
            elif s == "values" and col.fixed:
                t.set_shape([None, *col.shape])
            else:
                t.set_shape([None])
            streams[col.key(s)] = t
        return streams

    ds = tf.data.Dataset.range(len(starts))
    ds = map_plain(ds, to_dict)
    ds = map_plain(ds, layout.decode_chunk).unbatch()
    if layout.needs_finish:
        ds = map_plain(ds, layout.finish_element)
    return ds.apply(tf.data.experimental.assert_cardinality(num_elements))


def _tf_stream_dtype(col, stream):
    if stream == "values":
        return tf.string if col.is_string else tf.as_dtype(col.storage_dtype)
    return tf.int64


class _Bounds:
    """Where each element's data starts in every stream, from the small shapes/lengths streams."""

    def __init__(self, layout: Layout, arrays: Mapping[str, object], n: int):
        self.arrays = arrays
        self.offsets: dict[str, np.ndarray] = {}  # stream key -> element boundaries in that stream
        self.byte_offsets: dict[str, np.ndarray] = {}
        self.total_bytes = 0
        for col in layout.columns:
            per_elem = (
                np.full(n, int(np.prod(col.shape, dtype=np.int64)), np.int64)
                if col.fixed
                else np.prod(np.asarray(arrays[col.key("shapes")][:n], dtype=np.int64), axis=1)
            )
            starts = np.concatenate([[0], np.cumsum(per_elem)])
            if col.fixed and not col.is_string:
                self.offsets[col.key("values")] = np.arange(n + 1, dtype=np.int64)
            else:
                self.offsets[col.key("values")] = starts
            if not col.fixed:
                self.offsets[col.key("shapes")] = np.arange(n + 1, dtype=np.int64)
            if col.is_string:
                lengths = np.asarray(arrays[col.key("lengths")][:], dtype=np.int64)
                self.offsets[col.key("lengths")] = starts
                self.byte_offsets[col.key("values")] = np.concatenate([[0], np.cumsum(lengths)])
                self.total_bytes += int(self.byte_offsets[col.key("values")][-1])
            else:
                self.total_bytes += int(starts[-1]) * col.storage_dtype.itemsize

    def slice(self, key: str, a: int, b: int) -> np.ndarray:
        lo, hi = self.offsets[key][a], self.offsets[key][b]
        if key in self.byte_offsets:
            bo = self.byte_offsets[key]
            return np.array(np.asarray(self.arrays[key][bo[lo] : bo[hi]]).tobytes(), dtype=object)
        return np.asarray(self.arrays[key][lo:hi])
