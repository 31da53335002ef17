"""tfdata written by us, the files TensorFlow's `Dataset.save` writes, for dense and ragged_rank-0 leaves.

TensorFlow's save (TF 2.x, snapshot version 2) writes, below the target folder:

    snapshot.metadata                      a SnapshotMetadataRecord: run id, time, version 2, component dtypes, count, finalized
    dataset_spec.pb                        the element_spec, as TF's nested_structure_coder encodes it
    <run id>/<shard:08d>.shard/00000000.snapshot
                                           TFRecords (GZIP: one gzip stream), per element one record per
                                           component in tf.nest.flatten order, each a serialized TensorProto
                                           {dtype, tensor_shape, tensor_content} (TF's AsProtoTensorContent)

Writing that ourselves, a batch at a time with numpy (`_recordio`), rather than through TF's
save: TF's save iterates the source itself and never returns once it fails midway
(tensorflow/tensorflow#61736), so it must be guarded, and it cannot be fingerprinted on the way
without a Python generator in its path; both together cost 1.2x to 2x its own time. Here the
source is iterated once, like every other format's (its errors raise at once), each batch
fingerprinted and encoded in one go. TensorFlow's own `Dataset.load` reads the result (`reader`);
the tests compare every file byte for byte with TF's own save of the same dataset.
String tensors are the TensorProto's `tensor_content` too: every string's varint32 length, then the bytes.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import snapshot_pb2

from ...columns import COUNT, Column, Layout, Leaf, iter_batches
from ...progress import Progress
from ...storage.checksums import Digest
from .._recordio import FRAME, Piece, RecordFile, assemble, blob, const, element_sizes, frame, offsets, segment_sum, varint, varint_bytes, varint_groups, varint_len

DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.bool, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64, tf.string)
COMPRESSIONS = (None, "GZIP")  # SNAPPY is TF's own framing of snappy blocks: left to TF's save
_VERSION = 2  # the snapshot file version TF 2.x writes and reads (snapshot_util)


def writes(layout: Layout, options: dict) -> bool:
    """Whether `write` can store this layout: every leaf a dense tensor (or ragged of ragged_rank 0) of a supported dtype, no SNAPPY."""
    return options["compression"] in COMPRESSIONS and all(_writes(leaf) for leaf in layout.leaves)


def _writes(leaf: Leaf) -> bool:
    col = leaf.columns[0]
    if len(leaf.columns) != 1 or col.dtype not in DTYPES:
        return False
    return isinstance(leaf.spec, tf.TensorSpec) or (isinstance(leaf.spec, tf.RaggedTensorSpec) and leaf.ragged_rank == 0 and col.dtype in _FIELDS)


def write(dataset: tf.data.Dataset, layout: Layout, target: Path, options: dict, fingerprinter, progress: Progress) -> dict[str, Digest]:
    """Write the snapshot of `dataset` into `target`; returns the shard files' digests, by path relative to `target`.

    Element i goes to shard i % num_shards, as our TF-save path's shard_func puts it, so
    `reader.load`'s interleave gives the saved order back.
    """
    shards, run_id = options["num_shards"], str(secrets.randbits(63))
    files: dict[int, RecordFile] = {}  # shard -> file, opened at its first element (TF writes no empty shard)
    encoders = [_encoder(leaf) for leaf in layout.leaves]
    count, hashed, bounded = 0, None, getattr(fingerprinter, "limits", None) is not None
    # the fingerprint (SHA-256 of every stream) in a thread beside the encoding, a batch at a time and in
    # order: hashlib lets go of the GIL. On images it was a quarter of the save's time on the main thread
    with ThreadPoolExecutor(1, thread_name_prefix="dataset_assets-fingerprint") as pool:
        try:
            for batch in iter_batches(dataset.with_options(_as_tf_save_iterates()), layout):
                if hashed is not None:
                    hashed.result()
                if bounded:  # a bound passed (max_bytes, max_elements) raises on the batch that passed it
                    fingerprinter.update(batch)
                else:
                    hashed = pool.submit(fingerprinter.update, batch)
                n = int(batch[COUNT])
                framed, lengths = frame([encode(batch, n) for encode in encoders], n)
                row_bytes = lengths.sum(1) + FRAME * lengths.shape[1]  # one element: its records, framed
                for shard in range(shards):
                    rows = np.arange((shard - count) % shards, n, shards)
                    if not len(rows):
                        continue
                    if shard not in files:
                        folder = target / run_id / f"{shard:08d}.shard"
                        folder.mkdir(parents=True)
                        files[shard] = RecordFile(folder / "00000000.snapshot", options["compression"])
                    data = framed if shards == 1 else _rows(framed, offsets(row_bytes)[rows], row_bytes[rows])
                    files[shard].write(data, lengths[rows].reshape(-1))
                count += n
                progress.update(n, len(framed))
            if hashed is not None:
                hashed.result()
        finally:
            for f in files.values():
                f.close()
    _write_metadata(target, layout, run_id, count)
    return {f.path.relative_to(target).as_posix(): f.digest for f in files.values()}


def _as_tf_save_iterates() -> tf.data.Options:
    """The source iterated as TF's own `Dataset.save` iterates it: without tf.data's default graph rewrites.

    TF's save runs its input as given; a Python iterator first rewrites the pipeline with Grappler,
    which cost 0.1-0.37 s per save here (images: a third of TF's whole save). The source's
    other options (`with_options`: threading, determinism, single optimizations) still hold.
    """
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return options


def _rows(framed: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The byte ranges framed[starts[i] : starts[i] + sizes[i]], back to back."""
    within = np.arange(int(sizes.sum())) - np.repeat(offsets(sizes), sizes)
    return framed[np.repeat(starts, sizes) + within]


def _write_metadata(target: Path, layout: Layout, run_id: str, count: int) -> None:
    """The two small files TF's save writes beside the shards (TF's load reads the metadata to find them)."""
    target.mkdir(parents=True, exist_ok=True)
    metadata = snapshot_pb2.SnapshotMetadataRecord(
        run_id=run_id,
        creation_timestamp=time.time_ns() // 1000,
        version=_VERSION,
        dtype=[(tf.variant if leaf.ragged_rank is not None else leaf.columns[0].dtype).as_datatype_enum for leaf in layout.leaves],
        num_elements=count,
        finalized=True,
    )
    (target / "snapshot.metadata").write_bytes(metadata.SerializeToString())
    # what TF's save_op encodes dataset_spec.pb with (tensorflow.python.saved_model.nested_structure_coder, exported here)
    spec = tf.__internal__.saved_model.encode_structure(layout.element_spec)
    (target / "dataset_spec.pb").write_bytes(spec.SerializeToString())


_VARIANT = b"\x08\x15\x12\x00\x22"  # a TensorProto: dtype DT_VARIANT, scalar shape, tensor_content follows
_RAGGED = b"\x0a\x13RaggedTensorVariant\x1a"  # a VariantTensorDataProto: type_name, then its one tensor (metadata empty)


def _encoder(leaf: Leaf):
    """`encode(batch, n)` -> (pieces, data lengths) of the leaf's records, one TensorProto per element.

    A dense leaf is the tensor itself, its values as `tensor_content`. A ragged leaf of
    ragged_rank 0 (as `from_tensor_slices` of a RaggedTensor gives) is a scalar variant holding a
    RaggedTensorVariant of its values alone, written as TF does: the variant tensor's content is
    the size of the VariantTensorDataProto, then it; its tensor has its values in typed fields.
    """
    col = leaf.columns[0]
    if leaf.ragged_rank is None:
        return lambda batch, n: _tensor(col, batch, n, _content)

    def encode(batch: dict, n: int) -> tuple[list[Piece], np.ndarray]:
        inner, inner_len = _tensor(col, batch, n, _field)
        data_len = len(_RAGGED) + varint_len(inner_len) + inner_len
        content_len = varint_len(data_len) + data_len
        pieces = [const(n, _VARIANT), varint(content_len), varint(data_len), const(n, _RAGGED), varint(inner_len), *inner]
        return pieces, len(_VARIANT) + varint_len(content_len) + content_len

    return encode


def _tensor(col: Column, batch: dict, n: int, values) -> tuple[list[Piece], np.ndarray]:
    """Every element's TensorProto: dtype, tensor_shape, then `values(col, batch, sizes, n)` (tag included)."""
    dtype = b"\x08" + varint_bytes(col.dtype.as_datatype_enum)
    if col.fixed:
        shape = _shape_bytes(col.shape)
        head, head_len = [const(n, dtype + b"\x12" + varint_bytes(len(shape)) + shape)], len(dtype) + 2 + len(shape)
    else:
        dims, dims_len = _shape_pieces(batch[col.key("shapes")], n)
        head = [const(n, dtype + b"\x12"), varint(dims_len), *dims]
        head_len = len(dtype) + 1 + varint_len(dims_len) + dims_len
    body, body_len = values(col, batch, element_sizes(col, batch), n)
    return [*head, *body], head_len + body_len


def _shape_bytes(shape) -> bytes:
    """A TensorShapeProto: one `dim` (field 2) per dimension, its `size` (field 1) left out when 0."""
    out = b""
    for size in shape:
        dim = b"\x08" + varint_bytes(size) if size else b""
        out += b"\x12" + varint_bytes(len(dim)) + dim
    return out


def _shape_pieces(shapes: np.ndarray, n: int) -> tuple[list[Piece], np.ndarray]:
    """`_shape_bytes` of every element's own shape: ([n, ndim] sizes) -> (pieces, the message's length per element)."""
    pieces, total = [], np.zeros(n, np.int64)
    for d in range(shapes.shape[1]):
        size = shapes[:, d].astype(np.int64)
        field = _optional(b"\x08", size)
        pieces += [const(n, b"\x12"), varint(field.lens), field]
        total += 1 + varint_len(field.lens) + field.lens
    return pieces, total


def _optional(tag: bytes, values: np.ndarray) -> Piece:
    """`tag` + varint(value) per row, nothing where the value is 0 (proto3 leaves out zeros and empty bytes)."""
    g, nb = varint_groups(values)
    m = np.concatenate([np.broadcast_to(np.frombuffer(tag, np.uint8), (len(values), len(tag))), g], 1)
    valid = (np.asarray(values) != 0)[:, None] & (np.arange(m.shape[1]) < (len(tag) + nb)[:, None])
    # all rows the same width (a fixed-shape tensor's content tag): no mask, or `assemble` compacts every byte of the record
    return Piece(m) if valid.all() else Piece(m, valid)


def _content(col: Column, batch: dict, sizes: np.ndarray, n: int) -> tuple[list[Piece], np.ndarray]:
    """Every element's tensor_content (field 4, absent when empty): raw little-endian values; strings: every
    string's varint32 length, then their bytes."""
    values = np.ascontiguousarray(batch[col.key("values")])
    if col.is_string:
        lengths = batch[col.key("lengths")].astype(np.int64)
        g, nb = varint_groups(lengths)
        varints, per_element = segment_sum(nb, sizes), segment_sum(lengths, sizes)
        pieces, total = [blob(g[np.arange(g.shape[1]) < nb[:, None]], varints), blob(values.reshape(-1), per_element)], varints + per_element
    elif col.fixed:
        width = int(np.prod(col.shape, dtype=np.int64)) * values.dtype.itemsize
        pieces, total = [Piece(_le_bytes(values).reshape(n, width))], np.full(n, width, np.int64)
    else:
        total = sizes * values.dtype.itemsize
        pieces = [blob(_le_bytes(values), total)]
    tag = _optional(b"\x22", total)
    return [tag, *pieces], tag.lens + total


# TensorProto's typed fields (AsProtoField, inside variants): (key, how). Packed varints carry
# int32 and smaller sign-extended, bools as 0/1, halfs as their 16 bits; floats packed raw.
_FIELDS = {
    tf.float32: (b"\x2a", "raw"), tf.float64: (b"\x32", "raw"), tf.int64: (b"\x52", "varint"), tf.bool: (b"\x5a", "varint"),
    tf.int32: (b"\x3a", "varint"), tf.int16: (b"\x3a", "varint"), tf.int8: (b"\x3a", "varint"), tf.uint8: (b"\x3a", "varint"),
    tf.uint16: (b"\x3a", "varint"), tf.float16: (b"\x6a", "varint"), tf.bfloat16: (b"\x6a", "varint"),
    tf.uint32: (b"\x82\x01", "varint"), tf.uint64: (b"\x8a\x01", "varint"), tf.string: (b"\x42", "strings"),
}


def _field(col: Column, batch: dict, sizes: np.ndarray, n: int) -> tuple[list[Piece], np.ndarray]:
    """Every element's values in the TensorProto field of their dtype (`_FIELDS`), absent when empty."""
    key, how = _FIELDS[col.dtype]
    values = np.ascontiguousarray(batch[col.key("values")]).reshape(-1)
    if how == "strings":  # repeated, not packed: per string the key, its length, its bytes
        lengths = batch[col.key("lengths")].astype(np.int64)
        buf, entry = assemble([const(len(lengths), key), varint(lengths), blob(values, lengths)], len(lengths))
        total = segment_sum(entry, sizes)
        return [blob(buf, total)], total
    if how == "raw":
        payload = sizes * values.dtype.itemsize
        pieces = [blob(_le_bytes(values), payload)]
    else:
        if values.dtype.itemsize == 2 and values.dtype.kind == "f":
            values = values.view(np.uint16)
        g, nb = varint_groups(values.astype(np.int64))
        payload = segment_sum(nb, sizes)
        pieces = [blob(g[np.arange(g.shape[1]) < nb[:, None]], payload)]
    tag = _optional(key, payload)
    return [tag, *pieces], tag.lens + payload


def _le_bytes(values: np.ndarray) -> np.ndarray:
    return values.astype(values.dtype.newbyteorder("<"), copy=False).reshape(-1).view(np.uint8)
