"""tfrecord random access (`dataset_assets.open`): any record found through the record index, parsed as `read` parses.

The index (`framing.INDEX`) holds every record's length, file after file, so a record's place is
a cumulative sum away; an element's file and record follow from how `shards` spread the blocks
(block b of `block_length` records in file b % `cycle_length`, or files filled one after
another). Records are read from checked, cached blocks (`storage.gather`), in one batch per
file, and parsed by one traced `parse_example` for the whole request. Compressed files have no
places to read from: `open_rows` returns None for them, and `open` says what has random access.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from ...columns import Layout
from ...errors import ArtifactError
from ...manifest import Manifest, open_member
from ...rows import decode_rows
from ...storage.gather import BlockGather
from .._columnar import RANDOM_CACHE_BYTES
from . import framing
from .reader import _to_streams, library_spec

_HEAD = 12  # the 8-byte length and its 4-byte CRC before each record's data


def open_rows(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> "_Records | None":
    details = manifest.details
    if details.get("compression"):
        return None
    return _Records(directory, manifest, layout, checked)


class _Records:
    def __init__(self, directory: Path, manifest: Manifest, layout: Layout, checked: bool):
        details = manifest.details
        self.layout, self.names = layout, list(details["files"])
        self.cycle, self.block = int(details["cycle_length"]), int(details["block_length"])
        counts = [int(c) for c in details.get("records_per_file", [])]
        lengths = framing.read_index(directory, manifest)
        sizes = {f.path: f.bytes for f in manifest.files}
        if len(counts) != len(self.names) or sum(counts) != len(lengths) or sum(counts) != manifest.num_elements:
            raise ArtifactError(f"{directory}: the record index and records_per_file {counts!r} do not match the manifest's {manifest.num_elements} elements; re-create the artifact with save()")
        self.first = np.cumsum([0, *counts[:-1]])  # the index position of each file's first record
        self.lengths, self.starts, self.files = lengths, np.empty(len(lengths), np.int64), []
        for k, (name, first, count) in enumerate(zip(self.names, self.first.tolist(), counts)):
            framed = lengths[first : first + count] + framing.FRAME
            if int(framed.sum()) != sizes.get(name, -1):
                raise ArtifactError(f"{directory / name}: its indexed records end at byte {int(framed.sum())}, the file holds {sizes.get(name)}; the artifact is damaged")
            self.starts[first : first + count] = np.cumsum(framed) - framed + _HEAD
            share = RANDOM_CACHE_BYTES * sizes[name] // max(sum(sizes.get(n, 0) for n in self.names), 1)
            self.files.append(BlockGather(open_member(directory, manifest, name, checked), max(share, 4 << 20)))
        columns = [c.name for c in layout.columns]
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

    def elements(self, indices: np.ndarray) -> list:
        file, at = self._places(np.asarray(indices, np.int64))
        records = np.empty(len(indices), object)
        for k in np.unique(file).tolist():  # one gather per shard file
            mine = np.flatnonzero(file == k)
            lengths = self.lengths[at[mine]]
            data = self.files[k].ranges(self.starts[at[mine]], lengths).tobytes()
            ends = np.cumsum(lengths).tolist()
            records[mine] = [data[end - n : end] for end, n in zip(ends, lengths.tolist())]
        try:
            streams = self.parse(tf.constant(records.tolist() or [], tf.string))
        except tf.errors.InvalidArgumentError as e:
            raise ArtifactError(f"{self.names}: a record does not parse as the saved features ({e.message.splitlines()[0]}); the artifact is damaged") from None
        return decode_rows(self.layout, {k: _plain(v) for k, v in streams.items()})


def _plain(t: tf.Tensor):
    value = t.numpy()
    return np.array(value, dtype=object) if isinstance(value, bytes) else value
