"""tfrecord `read`: the shard files back to elements, in the saved order, with plain TensorFlow ops.

The manifest's feature spec must equal `parse_spec` of the element_spec. Files filled one
after another are read in sequence; round-robin shards through a deterministic parallel
interleave of whole blocks. Each batch of serialized Examples goes through one `tf.io.parse_example`
(`library_spec`), its features become the stream dict of the shared column decoding
(`_to_streams`; raw-encoded dtypes via `_decode_raw`), and the result is unbatched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from ...columns import COUNT, Column, Layout, batch_size_for, map_plain
from ...errors import ArtifactError
from ...manifest import Manifest, safe_member
from ...pyfuncs import py_function
from . import framing
from .options import NATIVE, parse_spec

MAX_BLOCK = 1 << 16


def read(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True, arrival=None) -> tf.data.Dataset:
    """TensorFlow's reader checks every record's length and data CRC-32C itself; `checked` cannot turn that off.

    `arrival` (a remote version still arriving in the cache, `storage.cache.Arrival`): each shard
    is opened once it is there, so reading starts with the first shard.
    The framing of uncompressed files is checked before TensorFlow reads them (`framing`), checked or not.
    """
    batches = record_batches(directory, manifest, layout, arrival)
    if layout.needs_split:  # as in _columnar.read_streams: one pipeline per leaf, zipped
        leaves = zip(layout.per_leaf(), layout.leaves)
        ds = tf.data.Dataset.zip(layout.pack([decode_batches(batches(), sub, [c.name for c in leaf.columns]) for (sub, _), leaf in leaves]))
    else:
        ds = decode_batches(batches(), layout, [c.name for c in layout.columns])
    # No prefetch of the single elements: the parallel decoding map already works ahead, batch by batch, and a
    # prefetch after the unbatch handed every element between threads (numeric, 200,000 elements: 0.8-1.1 s
    # of CPU with it, 0.5-0.65 s without; in-memory from_tensor_slices 0.2 s)
    return ds.apply(tf.data.experimental.assert_cardinality(manifest.num_elements))


def stored_streams(directory: Path, manifest: Manifest, layout: Layout) -> Iterator[dict[str, np.ndarray]]:
    """The column streams of the records, batch by batch, as the writer fingerprinted them, never decoded into elements.

    What `parts.commit_parts` hashes: parsing is all it takes, where `read` then builds every
    element and `iter_batches` takes them apart again (1,000,000 mixed elements: about 3x faster).
    """
    names = [c.name for c in layout.columns]
    spec = library_spec(layout, names)
    parse = lambda serialized: _to_streams(layout, names, tf.io.parse_example(serialized, spec), serialized)  # noqa: E731
    for streams in map_plain(record_batches(directory, manifest, layout)(), parse).prefetch(2):
        yield {k: _stream_array(v.numpy()) for k, v in streams.items()}


def _stream_array(value) -> np.ndarray:
    """A string column's values come out of parsing as one joined string; the encoding has them as uint8, as here."""
    return np.frombuffer(value, np.uint8) if isinstance(value, bytes) else value


def record_batches(directory: Path, manifest: Manifest, layout: Layout, arrival=None):
    """A function making the dataset of batches of serialized records in the saved order, the manifest's details checked first."""
    details = manifest.details
    missing = sorted({"features", "files", "compression", "cycle_length", "block_length"} - set(details))
    if missing or details["features"] != parse_spec(layout):
        what = f"lacks {', '.join(missing)}" if missing else "has a feature spec that does not match its element_spec"
        raise ArtifactError(f"{directory}/manifest.json {what} (tfrecord details); re-create the artifact with save()")
    files = [str(safe_member(directory, name)) for name in details["files"]]
    compression, cycle, block = details["compression"] or "", int(details["cycle_length"]), int(details["block_length"])
    if not 1 <= block <= MAX_BLOCK:  # the writer's blocks hold at most 4096 records; the reader batches by them
        raise ArtifactError(f"{directory}/manifest.json gives block_length={block!r}, not 1..{MAX_BLOCK} (tfrecord details); re-create it with save()")
    decode_batch = record_batch(layout)
    check_framing = lambda path: None  # noqa: E731 -- TF's compressed readers fail cleanly on a crafted length
    if not compression:  # TF's uncompressed reader allocates whatever a length prefix says: check each file first
        if arrival is not None:
            arrival.wait(framing.INDEX)  # fetched first (FETCH_FIRST)
        check_framing = framing.file_checker(directory, manifest, files, list(details.get("records_per_file", [])))
        if arrival is None:
            for path in files:
                check_framing(path)

    names = dict(zip(files, details["files"]))

    def arrived(path):  # one call per shard, not per record: wait for it, then check its framing
        path = path.numpy().decode()
        arrival.wait(names[path])
        check_framing(path)
        return path

    def shard_paths() -> tf.data.Dataset:
        paths = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
        if arrival is None:
            return paths
        waited = paths.map(lambda p: tf.ensure_shape(py_function(arrived, [p], tf.string), []))
        # the wait holds no state worth saving: a restored iterator waits again (or finds the file there)
        options = tf.data.Options()
        options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
        return waited.with_options(options)

    # TF's default read buffer (256 kB): a larger one bought nothing measurable and made TF log a line on every load.
    # What goes to the decoding is batches of serialized records, never single records handed between threads.
    def batches() -> tf.data.Dataset:
        if cycle == 1:  # files filled one after another: read them in sequence
            return tf.data.TFRecordDataset(shard_paths() if arrival is not None else files, compression).batch(decode_batch)
        # block b is in file b % cycle, and every block but the last is full: each file batched by blocks, and a
        # deterministic parallel interleave of one block per turn restores the order (a parallel interleave of
        # single records cost a thread hand-off per record)
        return shard_paths().interleave(
            tf.autograph.experimental.do_not_convert(lambda f: tf.data.TFRecordDataset(f, compression).batch(block)),
            cycle_length=cycle,
            block_length=1,
            num_parallel_calls=cycle,
            deterministic=True,
        )

    return batches


def record_batch(layout: Layout) -> int:
    """Records parsed per `parse_example`: about 4 MB of elements, at most 4,096."""
    return int(min(batch_size_for(layout, 4 << 20), 4096))


def decode_batches(batches: tf.data.Dataset, layout: Layout, names: list[str]) -> tf.data.Dataset:
    """Batches of serialized Examples (string vectors) -> elements: one parse_example per batch, then the shared column decoding."""
    spec = library_spec(layout, names)

    def decode(serialized):
        return layout.decode_chunk(_to_streams(layout, names, tf.io.parse_example(serialized, spec), serialized))

    ds = map_plain(batches, decode).unbatch()
    if layout.needs_finish:
        ds = map_plain(ds, layout.finish_element)
    return ds


def library_spec(layout: Layout, names: list[str]) -> dict:
    """The `tf.io.parse_example` features of the columns, named `names`."""
    spec = {}
    for col, name in zip(layout.columns, names):
        if col.dtype not in NATIVE:
            spec[name] = tf.io.FixedLenFeature([], tf.string)
        elif col.fixed:
            spec[name] = tf.io.FixedLenFeature(col.shape, col.dtype)
        else:
            spec[name] = tf.io.RaggedFeature(col.dtype, row_splits_dtype=tf.int64)
        if not col.fixed:
            spec[f"{name}#shape"] = tf.io.FixedLenFeature([len(col.shape)], tf.int64)
    return spec


def _decode_raw(data, col: Column):
    stored = tf.as_dtype(col.storage_dtype)
    if stored in (tf.uint32, tf.uint64):  # decode_raw lacks these: read the same bytes signed, then reinterpret
        return tf.bitcast(tf.io.decode_raw(data, tf.int32 if stored == tf.uint32 else tf.int64), stored)
    return tf.io.decode_raw(data, stored)


def _to_streams(layout: Layout, names: list[str], parsed: dict, serialized) -> dict:
    """Parsed features of a batch -> the stream dict `Layout.decode_chunk` takes."""
    n = tf.shape(serialized, out_type=tf.int64)[0]
    streams = {COUNT: n}
    for col, name in zip(layout.columns, names):
        x = parsed[name]
        if not col.fixed:
            streams[col.key("shapes")] = parsed[f"{name}#shape"]
        if col.dtype not in NATIVE:
            values = _decode_raw(x, col) if col.fixed else _decode_raw(tf.strings.reduce_join(x), col)
            if col.fixed:
                values = tf.reshape(values, [n, *col.shape])
        else:
            values = x if col.fixed else x.flat_values
        if col.is_string:
            flat = tf.reshape(values, [-1])
            streams[col.key("lengths")] = tf.cast(tf.strings.length(flat), tf.int64)
            values = tf.strings.reduce_join(flat)
        streams[col.key("values")] = values
    return streams
