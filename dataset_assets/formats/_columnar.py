"""Shared by the column-file formats (npy, hdf5): stream batches into per-stream arrays, read them back in chunks."""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

import numpy as np
import tensorflow as tf

from ..columns import COUNT, Layout, iter_batches, map_plain
from ..errors import ArtifactError
from ..fingerprint import Fingerprinter
from ..progress import Progress
from ..pyfuncs import numpy_function
from ..rows import RowDecoder
from ..selection import shuffled_indices

CHUNK_BYTES = 8 << 20
RANDOM_CACHE_BYTES = 1 << 30  # random access and global shuffles keep at most this much of an artifact's checked blocks


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


def read_streams(
    layout: Layout, arrays: Mapping[str, object], num_elements: int, elements: range | None = None, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """A dataset over per-stream arrays (file readers, HDF5 datasets): chunked reads, unbatched inside TF.

    `elements` (a range within the artifact's): only those are read, so a slice or a shard reads
    its share of the bytes (plus the small shapes/lengths streams of variable-size leaves).
    `shuffle_seed`: the elements in a global random order, a new one each iteration
    (`selection.shuffled_indices`), gathered a chunk of indices at a time (`take`).
    """
    elements = range(num_elements) if elements is None else elements
    if layout.needs_split:  # one pipeline per leaf over its own streams; zip rebuilds the structure
        parts = [
            read_streams(sub, {k: arrays[v] for k, v in keys.items()}, num_elements, elements, shuffle_seed) for sub, keys in layout.per_leaf()
        ]
        return tf.data.Dataset.zip(layout.pack(parts))
    bounds = _Bounds(layout, arrays, num_elements)
    bytes_per_element = max(bounds.total_bytes // max(num_elements, 1), 1)
    chunk = int(min(max(CHUNK_BYTES // bytes_per_element, 1), 1 << 16))
    first, last = elements.start, elements.stop
    chunks = -(-len(elements) // chunk)  # no array of chunk starts: a count is never allocated from
    keys = [col.key(s) for col, s in layout.stream_keys()]
    touts = [tf.int64] + [_tf_stream_dtype(col, s) for col, s in layout.stream_keys()]

    def read_chunk(i):
        if shuffle_seed is not None:  # `i`: the indices of this chunk's elements
            return bounds.take(keys, i)
        a = first + int(i) * chunk
        b = min(a + chunk, last)
        return [np.int64(b - a)] + [bounds.slice(key, a, b) for key in keys]

    def to_dict(i):
        out = numpy_function(read_chunk, [i], touts)
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

    if shuffle_seed is None:
        ds = tf.data.Dataset.range(chunks)
    else:  # random blocks are slower to gather than runs: smaller chunks keep the pipeline's threads busy
        ds = shuffled_indices(elements, shuffle_seed, max(chunk // 4, 1))
    ds = map_plain(ds, to_dict)
    ds = map_plain(ds, layout.decode_chunk).unbatch()
    if layout.needs_finish:
        ds = map_plain(ds, layout.finish_element)
    return ds.apply(tf.data.experimental.assert_cardinality(len(elements)))


class ColumnRows:
    """Random access to per-stream arrays: the stream dict of any elements, for `dataset_assets.open`."""

    def __init__(self, layout: Layout, arrays: Mapping[str, object], num_elements: int):
        self.layout, self.num_elements = layout, num_elements
        self.bounds = _Bounds(layout, arrays, num_elements)
        self.keys = [col.key(s) for col, s in layout.stream_keys()]
        self.count_and_keys = [COUNT, *self.keys]
        self.decoder = RowDecoder(layout)

    def streams(self, indices: np.ndarray) -> dict:
        """{COUNT: k, stream key: its rows for the elements `indices`, in that order}."""
        return dict(zip([COUNT, *self.keys], self.bounds.take(self.keys, indices)))

    def elements(self, indices: np.ndarray) -> list:
        return self.decoder.decode(self.streams(indices))

    def one(self, i: int):
        """Element `i` (`art[i]`): `elements` on a Python int, no index arrays built and taken apart."""
        return self.decoder.decode(dict(zip(self.count_and_keys, self.bounds.take_one(self.keys, i))))[0]


def _tf_stream_dtype(col, stream):
    if stream == "values":
        return tf.string if col.is_string else tf.as_dtype(col.storage_dtype)
    return tf.int64


class _Bounds:
    """Where each element's data starts in every stream, from the small shapes/lengths streams.

    Every stream's length is compared with what the manifest's count implies *before* anything
    is allocated from that count: a manifest claiming a billion elements over small files is
    refused, not answered with a billion-entry offset table. Fixed-size columns need no table
    at all (element i starts at i * size).
    """

    def __init__(self, layout: Layout, arrays: Mapping[str, object], n: int):
        self.arrays = arrays
        self.per_element: dict[str, int] = {}  # stream key -> fixed rows per element (no offset table)
        self.offsets: dict[str, np.ndarray] = {}  # stream key -> element boundaries in that stream
        self.byte_offsets: dict[str, np.ndarray] = {}
        self._plans: dict[tuple, list] = {}  # keys -> take_one's per-stream plan
        # stream key -> rows(lo, hi) from the tables above, for `take_one`: string lengths, 1-D shapes.
        # Each is a file read saved per element (mixed `art[i]`: 6 streams read, now 4)
        self.derived: dict[str, Callable] = {}
        self.total_bytes = 0
        for col in layout.columns:
            size = int(np.prod(col.shape, dtype=np.int64)) if col.fixed else None
            if col.fixed:
                values_rows = n if not col.is_string else n * size
                if not col.is_string:
                    _expect_rows(arrays, col.key("values"), n, col)
                    self.per_element[col.key("values")] = 1
                    self.total_bytes += n * size * col.storage_dtype.itemsize
                else:
                    _expect_rows(arrays, col.key("lengths"), values_rows, col)
                    self.per_element[col.key("lengths")] = size
            else:
                _expect_rows(arrays, col.key("shapes"), n, col)
                self.per_element[col.key("shapes")] = 1
                shapes = np.asarray(arrays[col.key("shapes")][:n], dtype=np.int64)
                if (shapes < 0).any():
                    raise _damaged(arrays, col.key("shapes"), col, "holds a negative dimension")
                starts = np.concatenate([[0], np.cumsum(np.prod(shapes, axis=1))])
                values_rows = int(starts[-1])
                key = col.key("lengths") if col.is_string else col.key("values")
                _expect_rows(arrays, key, values_rows, col)
                self.offsets[key] = starts
                if len(col.shape) == 1:  # a 1-D element's shape is its size: no read of the shapes stream
                    self.derived[col.key("shapes")] = lambda lo, hi, s=starts: (s[lo + 1 : hi + 1] - s[lo:hi])[:, None]
                if not col.is_string:
                    self.total_bytes += values_rows * col.storage_dtype.itemsize
            if col.is_string:
                lengths = np.asarray(arrays[col.key("lengths")][:], dtype=np.int64)
                if (lengths < 0).any():
                    raise _damaged(arrays, col.key("lengths"), col, "holds a negative string length")
                self.byte_offsets[col.key("values")] = bo = np.concatenate([[0], np.cumsum(lengths)])
                self.derived[col.key("lengths")] = lambda lo, hi, bo=bo: bo[lo + 1 : hi + 1] - bo[lo:hi]  # np.diff: 4x the time
                _expect_rows(arrays, col.key("values"), int(self.byte_offsets[col.key("values")][-1]), col, "bytes")
                self.offsets[col.key("values")] = self.offsets.get(col.key("lengths"))
                if col.fixed:
                    self.per_element[col.key("values")] = size
                self.total_bytes += int(self.byte_offsets[col.key("values")][-1])

    def _bounds(self, key: str, a: int, b: int) -> tuple[int, int]:
        per = self.per_element.get(key)
        if per is not None:
            return a * per, b * per
        return int(self.offsets[key][a]), int(self.offsets[key][b])

    def take(self, keys: list[str], indices: np.ndarray) -> list:
        """[count, then each stream's rows for the elements `indices`, in that order]: what `slice` gives for a range."""
        indices = np.asarray(indices, np.int64)
        if len(indices) == 1:
            return self.take_one(keys, int(indices[0]))
        out = [np.int64(len(indices))]
        for key in keys:
            per = self.per_element.get(key)
            if per is not None:
                lo, hi = indices * per, (indices + 1) * per
            else:
                lo, hi = self.offsets[key][indices], self.offsets[key][indices + 1]
            if key in self.byte_offsets:
                bo = self.byte_offsets[key]
                out.append(np.array(take_ranges(self.arrays[key], bo[lo], bo[hi]).tobytes(), dtype=object))
            else:
                out.append(take_ranges(self.arrays[key], lo, hi))
        return out

    def take_one(self, keys: list[str], i: int) -> list:
        """`take` of one element, on Python ints (numpy's steps on arrays of one cost more than the read)."""
        plans = self._plans.get(tuple(keys))
        if plans is None:
            plans = self._plans[tuple(keys)] = [self._plan(key) for key in keys]
        out = [np.int64(1)]
        for per, offsets, bo, rows in plans:
            lo, hi = (i * per, (i + 1) * per) if per is not None else (int(offsets[i]), int(offsets[i + 1]))
            if bo is None:
                out.append(rows(lo, hi))
            else:
                out.append(np.array(rows(int(bo[lo]), int(bo[hi])).tobytes(), dtype=object))
        return out

    def _plan(self, key: str) -> tuple:
        """What `take_one` needs of a stream, looked up once: (rows per element or None, offsets, byte offsets, rows(lo, hi))."""
        array = self.arrays[key]
        rows = self.derived.get(key) or getattr(array, "rows", None) or (lambda lo, hi, array=array: np.asarray(array[lo:hi]))  # npy: cached blocks; HDF5: a slice
        return self.per_element.get(key), self.offsets.get(key), self.byte_offsets.get(key), rows

    def slice(self, key: str, a: int, b: int) -> np.ndarray:
        lo, hi = self._bounds(key, a, b)
        if key in self.byte_offsets:
            bo = self.byte_offsets[key]
            return np.array(np.asarray(self.arrays[key][bo[lo] : bo[hi]]).tobytes(), dtype=object)
        return np.asarray(self.arrays[key][lo:hi])


def take_ranges(array, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Rows `lo[i]..hi[i]` of a stream array, concatenated in order: its own `ranges` where it has one (npy files).

    Others (HDF5 datasets) are read in runs of whole chunks, the chunks that hold any of the rows
    (a slice per run: libhdf5's cost per selected row is far above its cost per byte), and numpy
    picks the rows out in the order asked.
    """
    if hasattr(array, "ranges"):
        return array.ranges(lo, hi)
    n = hi - lo
    rows = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
    if not len(rows):
        return np.asarray(array[0:0])
    per_chunk = max(int(getattr(array, "chunk_rows", 0) or 0), 1)
    chunks = np.unique(rows // per_chunk)
    runs = np.split(chunks, np.flatnonzero(np.diff(chunks) != 1) + 1)  # consecutive chunks: one read
    first_rows = np.array([run[0] * per_chunk for run in runs], np.int64)
    pieces = [np.asarray(array[int(a) : min(int(run[-1] + 1) * per_chunk, len(array))]) for a, run in zip(first_rows, runs)]
    at = np.cumsum([0, *(len(p) for p in pieces[:-1])])
    run = np.searchsorted(first_rows, rows, side="right") - 1
    return np.concatenate(pieces)[at[run] + rows - first_rows[run]]


def _expect_rows(arrays: Mapping[str, object], key: str, rows: int, col, unit: str = "rows") -> None:
    have = len(arrays[key])
    if have != rows:
        raise _damaged(arrays, key, col, f"has {have} {unit}, the manifest's {'count' if unit == 'rows' else 'lengths'} need {rows}")


def _damaged(arrays, key: str, col, what: str) -> ArtifactError:
    where = getattr(arrays[key], "where", key)
    return ArtifactError(f"{where}: stream {key!r} of feature {col.name!r} {what}; the artifact or its manifest is damaged, re-create it with save()")
