"""tfrecord random access (`dataset_assets.open`, and `load`'s split, shard and shuffle): records found through the record index.

The index (`framing.INDEX`) holds every record's length, file after file, so a record's place is
a cumulative sum away, within one group of the index (`framing.RecordIndex`); an element's file
and record follow from how `shards` spread the blocks (block b of `block_length` records in file
b % `cycle_length`, or files filled one after another). Records are read from checked blocks
of a map of each file (`storage.gather`), in one batch per file, and decoded by protobuf's
parser (up to 16) or one traced `parse_example` for the whole request. `read_selected` serves
`load(split=, shard=, shuffle_seed=)` the same way, a batch of indices at a time, so a slice
reads its share and a shuffle is global. Compressed files have no places to read from:
`open_rows` returns None for them (`open` says what has random access), and `read_selected`
reads them whole, skips to the selection and shuffles in a buffer (`selection.buffer_shuffle`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from ...columns import Layout
from ...errors import ArtifactError
from ...manifest import Manifest, open_member
from ...pyfuncs import numpy_function
from ...rows import RowDecoder
from ...selection import buffer_shuffle, shuffled_indices
from ...storage.gather import BlockGather
from .._columnar import RANDOM_CACHE_BYTES
from . import framing, reader
from .examples import ExampleDecoder
from .reader import _to_streams, decode_batches, library_spec, record_batch

_HEAD = 12  # the 8-byte length and its 4-byte CRC before each record's data
_PROTOBUF_AT_MOST = 16  # elements decoded by protobuf in Python; more go to one parse_example (~3 us an element)


def open_rows(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> "_Records | None":
    details = manifest.details
    if details.get("compression"):
        return None
    return _Records(directory, manifest, layout, checked)


def read_selected(
    directory: Path, manifest: Manifest, layout: Layout, checked: bool, arrival, elements: range | None, shuffle_seed: int | None
) -> tf.data.Dataset:
    elements = range(manifest.num_elements) if elements is None else elements
    if manifest.details.get("compression"):  # no record places: read in order up to the selection, shuffle in a buffer
        ds = reader.read(directory, manifest, layout, checked, arrival).skip(elements.start).take(len(elements))
        ds = ds if shuffle_seed is None else buffer_shuffle(ds, len(elements), manifest.total_bytes * len(elements) // max(manifest.num_elements, 1), shuffle_seed)
        return ds.apply(tf.data.experimental.assert_cardinality(len(elements)))
    if arrival is not None:
        arrival.wait_all()
    records = _Records(directory, manifest, layout, checked)
    batch = record_batch(layout)

    def batches() -> tf.data.Dataset:
        if shuffle_seed is not None:
            indices = shuffled_indices(elements, shuffle_seed, batch)
        else:
            indices = tf.data.Dataset.range(elements.start, elements.stop, batch).map(lambda a: tf.range(a, tf.minimum(a + batch, elements.stop)))
        read = lambda i: tf.ensure_shape(numpy_function(records.serialized, [i], tf.string), [None])  # noqa: E731
        return indices.map(tf.autograph.experimental.do_not_convert(read), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    if layout.needs_split:  # as `reader.read`: one pipeline per leaf (each reads the same records in the same order), zipped
        leaves = zip(layout.per_leaf(), layout.leaves)
        ds = tf.data.Dataset.zip(layout.pack([decode_batches(batches(), sub, [c.name for c in leaf.columns]) for (sub, _), leaf in leaves]))
    else:
        ds = decode_batches(batches(), layout, [c.name for c in layout.columns])
    return ds.apply(tf.data.experimental.assert_cardinality(len(elements)))  # no prefetch of single elements (see reader)


class _Records:
    def __init__(self, directory: Path, manifest: Manifest, layout: Layout, checked: bool):
        details = manifest.details
        self.layout, self.names = layout, list(details["files"])
        self.cycle, self.block = int(details["cycle_length"]), int(details["block_length"])
        counts = [int(c) for c in details.get("records_per_file", [])]
        sizes = {f.path: f.bytes for f in manifest.files}
        if len(counts) != len(self.names) or sum(counts) != manifest.num_elements or any(n not in sizes for n in self.names):
            raise ArtifactError(f"{directory}: records_per_file {counts!r} of files {self.names!r} do not match the manifest's {manifest.num_elements} elements and files; re-create the artifact with save()")
        file_sizes = [sizes[n] for n in self.names]
        self.index = framing.RecordIndex(directory, manifest, sum(file_sizes))  # read a group at a time, as elements are asked for
        self.first = np.cumsum([0, *counts[:-1]])  # the index position of each file's first record
        self.base = np.cumsum([0, *file_sizes[:-1]])  # where each file starts in the files laid end to end
        self.files = []
        for name, size in zip(self.names, file_sizes):
            share = RANDOM_CACHE_BYTES * size // max(sum(file_sizes), 1)
            self.files.append(BlockGather(open_member(directory, manifest, name, checked), max(share, 4 << 20)))
        self.decoder = RowDecoder(layout)
        columns = [c.name for c in layout.columns]
        self.examples = ExampleDecoder(layout, columns)
        spec = library_spec(layout, columns)
        self.parse = tf.function(
            lambda serialized: _to_streams(layout, columns, tf.io.parse_example(serialized, spec), serialized),
            input_signature=[tf.TensorSpec([None], tf.string)],
            autograph=False,
        )

    def _places(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(file, index position) of each element: where `shards` put it."""
        if self.cycle == 1:
            file = np.searchsorted(self.first, indices, side="right") - 1
            return file, indices
        block, within = np.divmod(indices, self.block)
        file = block % self.cycle
        return file, self.first[file] + (block // self.cycle) * self.block + within

    def serialized(self, indices: np.ndarray) -> np.ndarray:
        """The records (serialized Examples) of the elements `indices`, in that order, as an object array of bytes."""
        file, at = self._places(np.asarray(indices, np.int64))
        records = np.empty(len(indices), object)
        if len(indices) == 1:  # one element of `open`: the same steps on Python ints (numpy's on arrays of one cost more than the read)
            k = int(file[0])
            length, start = self.index.one(int(at[0]))
            records[0] = self.files[k].one(start - int(self.base[k]) + _HEAD, length).tobytes()
            return records
        all_lengths, all_starts = self.index.locate(at)
        starts = all_starts - self.base[file] + _HEAD  # where each record's data starts in its own file
        for k in np.unique(file).tolist():  # one gather per shard file
            mine = np.flatnonzero(file == k)
            lengths = all_lengths[mine]
            data = self.files[k].ranges(starts[mine], lengths).tobytes()
            ends = np.cumsum(lengths).tolist()
            records[mine] = [data[end - n : end] for end, n in zip(ends, lengths.tolist())]
        return records

    def elements(self, indices: np.ndarray) -> list:
        records = self.serialized(indices)
        if len(records) <= _PROTOBUF_AT_MOST:  # a few: protobuf's parser, where one traced parse_example costs ~600 us
            return self.decoder.decode(self.examples.decode(records.tolist(), self.names))
        try:
            streams = self.parse(tf.constant(records.tolist() or [], tf.string))
        except tf.errors.InvalidArgumentError as e:
            raise ArtifactError(f"{self.names}: a record does not parse as the saved features ({e.message.splitlines()[0]}); the artifact is damaged") from None
        return self.decoder.decode({k: _plain(v) for k, v in streams.items()})


def _plain(t: tf.Tensor):
    value = t.numpy()
    return np.array(value, dtype=object) if isinstance(value, bytes) else value
