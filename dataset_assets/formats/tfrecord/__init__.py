"""`tfrecord`: one `tf.train.Example` per element, readable with plain TensorFlow (see docs/tfrecord.md).

Each column (a ragged leaf is several) is a feature named after it; the parse spec is written
to the manifest's details. This package is the format's interface (`base.Format`); the work is
kept apart by concern: `options` (option checking, which dtype is stored how, `parse_spec`),
`wire` (the Example protobuf wire format, written with numpy a block at a time, from the pieces
and TFRecord framing it shares with tfdata in `formats/_recordio.py`), `framing` (the record index,
checked before TensorFlow reads a file), `shards` (which file a block goes to), `writer`, `reader`,
`records` (random access) and `parts` (one version joined from parts written apart, `dataset_assets.parts`).
"""

from __future__ import annotations

from . import framing, reader
from .parts import check_parts, combine_parts
from .options import DEFAULT_SHARD_BYTES, NAME, OPTIONS, check, parse_spec
from .reader import stored_streams
from .records import open_rows, read_selected
from .writer import write

VERSION = 2  # 2: the record index (framing.INDEX), checked before TensorFlow reads a file
STREAMS = True  # `read` takes `arrival=`: a remote version is read while its shards arrive
FETCH_FIRST = (framing.INDEX,)  # fetched before the shards: each shard's framing is checked against it
RANGES = True  # `read` takes `elements=`: records found through the index, a slice reads its share
SHUFFLES = True  # `read` takes `shuffle_seed=`: a global shuffle (in a buffer for compressed files)


def read(directory, manifest, layout, checked: bool = True, arrival=None, elements: range | None = None, shuffle_seed: int | None = None):
    """The saved dataset: shard files in order through TensorFlow's reader, or, for a selection or a shuffle, records by index."""
    if elements is None and shuffle_seed is None:
        return reader.read(directory, manifest, layout, checked, arrival)
    return read_selected(directory, manifest, layout, checked, arrival, elements, shuffle_seed)

__all__ = [
    "DEFAULT_SHARD_BYTES", "FETCH_FIRST", "NAME", "OPTIONS", "RANGES", "SHUFFLES", "STREAMS", "VERSION",
    "check", "check_parts", "combine_parts", "open_rows", "parse_spec", "read", "stored_streams", "write",
]
