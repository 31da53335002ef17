"""The protobuf wire format of `tf.train.Example`s, written with numpy for a whole block of records at once.

`Encoder` turns a batch of stream arrays into its framed TFRecords: numpy lays out the
Examples side by side (their CRC-32C checksums come from `crc`), so no Python builds
anything per element (`tf.io.encode_proto` was ~0.5 µs per record per nested message, too
slow). The rest are its pieces: `_Piece` (per-row byte strings), protobuf varints, the
payload of each column kind, and `_assemble`, which joins the pieces row by row.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ...columns import COUNT, Column, Layout
from .crc import crc_ranges, crc_u64, mask
from .options import NATIVE


class Encoder:
    """A batch of stream arrays -> its framed TFRecords, protobuf wire format written directly with numpy.

    Every record of the batch is built side by side: a record is a list of *pieces*
    (constant bytes, varints, payloads), each a per-row byte string held as a padded
    matrix with a validity mask; one boolean compaction concatenates them row by row.
    Only large, uneven payloads stay as slices of their buffer and are gathered by TF.
    """

    def __init__(self, layout: Layout):
        self.columns = layout.columns
        self.keys = {}
        for col in self.columns:
            self.keys[col.name] = col.name.encode()
            if not col.fixed:
                self.keys[f"{col.name}#shape"] = f"{col.name}#shape".encode()

    def __call__(self, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        """(the framed records back to back, each record's data length: what `framing` indexes)."""
        n = int(batch[COUNT])
        entries, total = [], np.zeros(n, np.int64)
        for col in self.columns:
            sizes = _sizes(col, batch)
            tag = NATIVE.get(col.dtype, ("", "bytes_list"))[1]
            entries.append(self._entry(col.name, _TAGS[tag], _payload(col, batch, sizes, n), not col.is_string, n))
            if not col.fixed:
                shapes = batch[col.key("shapes")]
                entries.append(self._entry(f"{col.name}#shape", _TAGS["int64_list"], _int64_rows(shapes), True, n))
        pieces = []
        for entry_pieces, length in entries:
            pieces += entry_pieces
            total += length
        record_len = 1 + _varint_len(total) + total
        head = np.empty(n, dtype=[("len", "<u8"), ("crc", "<u4")])
        head["len"] = record_len
        head["crc"] = mask(crc_u64(record_len))
        head = _Piece(head.view(np.uint8).reshape(n, 12))
        framed = _assemble([head, _const(n, b"\x0a"), _varint(total), *pieces, _const(n, b"\0\0\0\0")], n)[0]
        starts = np.concatenate([[0], np.cumsum(record_len + 16)[:-1]]) + 12
        crc = mask(crc_ranges(framed, starts, record_len)).astype("<u4")
        framed[(starts + record_len)[:, None] + np.arange(4)] = crc.view(np.uint8).reshape(n, 4)
        return framed, record_len

    def _entry(self, name: str, tag: bytes, payload: "_Piece", wrap: bool, n: int):
        """One Features map entry {key, Feature{<tag>: list}}; `wrap`: the list is one length-delimited field 1
        around the payload (a packed Int64List/FloatList or a single raw BytesList value); else the payload is the list."""
        key = self.keys[name]
        if wrap:
            lp = payload.lens
            inner = [_const(n, b"\x0a"), _varint(lp), payload]
            llist = 1 + _varint_len(lp) + lp
        else:
            inner, llist = [payload], payload.lens
        lfeat = 1 + _varint_len(llist) + llist
        head = b"\x0a" + _varint_bytes(len(key)) + key + b"\x12"
        lentry = len(head) - 1 + 1 + _varint_len(lfeat) + lfeat
        pieces = [_const(n, b"\x0a"), _varint(lentry), _const(n, head), _varint(lfeat), _const(n, tag), _varint(llist), *inner]
        return pieces, 1 + _varint_len(lentry) + lentry


_TAGS = {"bytes_list": b"\x0a", "float_list": b"\x12", "int64_list": b"\x1a"}  # Feature's oneof fields 1..3


class _Piece:
    """Per-row byte strings: rows of `m` (only where `valid`), or consecutive slices of a flat `buf`."""

    def __init__(self, m=None, valid=None, lens=None, buf=None):
        self.m, self.valid, self.buf = m, valid, buf
        if lens is None:
            lens = valid.sum(1, dtype=np.int64) if valid is not None else np.full(len(m), m.shape[1], np.int64)
        self.lens = np.asarray(lens, np.int64)


def _const(n: int, b: bytes) -> _Piece:
    return _Piece(np.broadcast_to(np.frombuffer(b, np.uint8), (n, len(b))))


def _varint_groups(v: np.ndarray):
    """Protobuf varints of int64 values (negatives take 10 bytes): ([n, w] bytes, left-aligned, [n] lengths)."""
    u = np.ascontiguousarray(v, np.int64).reshape(-1).view(np.uint64)
    nb = _varint_len(u)
    w = int(nb.max()) if len(nb) else 1
    g = ((u[:, None] >> (np.arange(w, dtype=np.uint64) * np.uint64(7))) & np.uint64(0x7F)).astype(np.uint8)
    g |= np.where(np.arange(w) < (nb - 1)[:, None], 0x80, 0).astype(np.uint8)
    return g, nb


_VARINT_LIMITS = np.array([1 << (7 * j) for j in range(1, 10)], np.uint64)


def _varint_len(v: np.ndarray) -> np.ndarray:
    u = np.asarray(v).astype(np.int64, copy=False).view(np.uint64)
    return 1 + np.searchsorted(_VARINT_LIMITS, u, side="right").astype(np.int64)


def _varint_bytes(value: int) -> bytes:
    g, nb = _varint_groups(np.array([value]))
    return g[0, : nb[0]].tobytes()


def _varint(v: np.ndarray) -> _Piece:
    if len(v) and v.min() == v.max():
        return _const(len(v), _varint_bytes(int(v[0])))
    return _int64_rows(v.reshape(-1, 1))


def _int64_rows(values: np.ndarray) -> _Piece:
    """[n, k] int64 -> each row's k varints (a packed payload)."""
    n, k = values.shape
    g, nb = _varint_groups(values)
    w = g.shape[1]
    valid = np.arange(w) < nb[:, None]
    return _Piece(g.reshape(n, k * w), valid.reshape(n, k * w), nb.reshape(n, k).sum(1))


def _blob(buf: np.ndarray, lens: np.ndarray) -> _Piece:
    """Row slices of `buf`; as a padded matrix when padding costs little (it then joins the numpy compaction)."""
    n, width = len(lens), int(lens.max()) if len(lens) else 0
    if n * width > 2 * len(buf) + 64 * n:
        return _Piece(buf=buf, lens=lens)
    idx = _offsets(lens)[:, None] + np.arange(width)
    valid = np.arange(width) < lens[:, None]
    m = buf[np.minimum(idx, max(len(buf) - 1, 0))] if len(buf) else np.zeros((n, width), np.uint8)
    return _Piece(m, valid, lens)


def _assemble(pieces: list[_Piece], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the pieces row by row: (all rows back to back, length of each row)."""
    parts, run = [], []  # parts: (flat bytes, per-row lengths) alternating runs of matrices and buffers
    for p in pieces + [None]:
        if p is not None and p.buf is None:
            run.append(p)
            continue
        if run:
            wide = np.concatenate([q.m for q in run], axis=1) if len(run) > 1 else np.asarray(run[0].m)
            if all(q.valid is None for q in run):
                parts.append((np.ascontiguousarray(wide).reshape(-1), wide.shape[1] * np.ones(n, np.int64)))
            else:
                valid = np.concatenate([np.broadcast_to(True, q.m.shape) if q.valid is None else q.valid for q in run], axis=1)
                parts.append((wide[valid], sum(q.lens for q in run)))
            run = []
        if p is not None:
            parts.append((p.buf, p.lens))
    lens = sum(l for _, l in parts)
    if len(parts) == 1:
        return np.array(parts[0][0], np.uint8), lens
    # large uneven payloads: one C++ gather of (row, part) slices in row-major order
    source = np.concatenate([b for b, _ in parts])
    base = np.cumsum([0] + [len(b) for b, _ in parts[:-1]])
    starts = np.stack([b0 + _offsets(l) for b0, (_, l) in zip(base, parts)], 1)
    sizes = np.stack([l for _, l in parts], 1)
    joined = tf.strings.reduce_join(tf.strings.substr(tf.constant(source.tobytes()), starts, sizes))
    return np.frombuffer(joined.numpy(), np.uint8).copy(), lens


def _sizes(col: Column, batch: dict) -> np.ndarray:
    n = int(batch[COUNT])
    if col.fixed:
        return np.full(n, int(np.prod(col.shape, dtype=np.int64)), np.int64)
    return np.prod(batch[col.key("shapes")], axis=1, dtype=np.int64)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1], out=out[1:])
    return out


def _segment_sum(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    ends = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    return ends[bounds[1:]] - ends[bounds[:-1]]


def _payload(col: Column, batch: dict, sizes: np.ndarray, n: int) -> _Piece:
    values = np.ascontiguousarray(batch[col.key("values")])
    if col.is_string:  # a BytesList: per string, field 1 = length + bytes
        lengths = batch[col.key("lengths")].astype(np.int64)
        strings = _blob(values.reshape(-1), lengths)
        buf, entry = _assemble([_const(len(lengths), b"\x0a"), _varint(lengths), strings], len(lengths))
        return _blob(buf, _segment_sum(entry, sizes))
    if col.dtype == tf.int64:
        if col.fixed:
            return _int64_rows(values.reshape(n, int(sizes[0]) if n else 0))
        g, nb = _varint_groups(values)
        return _blob(g[np.arange(g.shape[1]) < nb[:, None]], _segment_sum(nb, sizes))
    flat = values.astype(values.dtype.newbyteorder("<"), copy=False)  # float32 (packed) and raw: little-endian bytes
    if col.fixed:
        return _Piece(flat.reshape(-1).view(np.uint8).reshape(n, (int(sizes[0]) if n else 0) * flat.dtype.itemsize))
    return _blob(flat.reshape(-1).view(np.uint8), sizes * flat.dtype.itemsize)
