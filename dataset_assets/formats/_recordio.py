"""Protocol buffer wire format and TFRecord framing, laid out with numpy for a whole block of records at once.

Shared by the formats that write protobuf records: tfrecord (`tf.train.Example`s) and tfdata
(TensorFlow's snapshot records, one `TensorProto` per component). A record is a list of
*pieces* (constant bytes, varints, payloads), each a per-row byte string held as a padded
matrix with a validity mask, or as slices of a flat buffer; `assemble` joins them row by row
and `frame` wraps rows of records in TFRecord framing, their CRC-32C checksums from `_crc`.
No Python runs per element.
"""

from __future__ import annotations

import functools
import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..columns import COUNT, Column
from ..storage.checksums import Digest, Hasher
from ._crc import crc_ranges, crc_u64, mask

FRAME = 16  # 8-byte length, 4-byte length CRC, data, 4-byte data CRC


def frame(records: list[tuple[list["Piece"], np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` rows of TFRecords, each row the given records in order (pieces, data length of each row's record).

    Returns (the framed rows back to back, [n, len(records)] data lengths). Each record is its
    length, the length's masked CRC-32C, its data, the data's masked CRC-32C.
    """
    pieces, lengths = [], []
    for record, length in records:
        length = np.asarray(length, np.int64)
        head = np.empty(n, dtype=[("len", "<u8"), ("crc", "<u4")])
        head["len"] = length
        head["crc"] = mask(crc_u64(length))
        pieces += [Piece(head.view(np.uint8).reshape(n, 12)), *record, const(n, b"\0\0\0\0")]
        lengths.append(length)
    framed = assemble(pieces, n)[0]
    lengths = np.stack(lengths, 1) if lengths else np.zeros((n, 0), np.int64)
    flat = lengths.reshape(-1)
    starts = offsets(flat + FRAME) + 12
    crc = mask(crc_ranges(framed, starts, flat)).astype("<u4")
    framed[(starts + flat)[:, None] + np.arange(4)] = crc.view(np.uint8).reshape(-1, 4)
    return framed, lengths


class Piece:
    """Per-row byte strings: rows of `m` (only where `valid`), or consecutive slices of a flat `buf`."""

    def __init__(self, m=None, valid=None, lens=None, buf=None):
        self.m, self.valid, self.buf = m, valid, buf
        if lens is None:
            lens = valid.sum(1, dtype=np.int64) if valid is not None else np.full(len(m), m.shape[1], np.int64)
        self.lens = np.asarray(lens, np.int64)


def const(n: int, b: bytes) -> Piece:
    return Piece(np.broadcast_to(np.frombuffer(b, np.uint8), (n, len(b))))


def varint_groups(v: np.ndarray):
    """Protobuf varints of int64 values (negatives take 10 bytes): ([n, w] bytes, left-aligned, [n] lengths)."""
    u = np.ascontiguousarray(v, np.int64).reshape(-1).view(np.uint64)
    nb = varint_len(u)
    w = int(nb.max()) if len(nb) else 1
    g = ((u[:, None] >> (np.arange(w, dtype=np.uint64) * np.uint64(7))) & np.uint64(0x7F)).astype(np.uint8)
    g |= np.where(np.arange(w) < (nb - 1)[:, None], 0x80, 0).astype(np.uint8)
    return g, nb


_VARINT_LIMITS = np.array([1 << (7 * j) for j in range(1, 10)], np.uint64)


def varint_len(v: np.ndarray) -> np.ndarray:
    u = np.asarray(v).astype(np.int64, copy=False).view(np.uint64)
    return 1 + np.searchsorted(_VARINT_LIMITS, u, side="right").astype(np.int64)


def varint_bytes(value: int) -> bytes:
    g, nb = varint_groups(np.array([value]))
    return g[0, : nb[0]].tobytes()


def varint(v: np.ndarray) -> Piece:
    if len(v) and v.min() == v.max():
        return const(len(v), varint_bytes(int(v[0])))
    return int64_rows(v.reshape(-1, 1))


def int64_rows(values: np.ndarray) -> Piece:
    """[n, k] int64 -> each row's k varints (a packed payload)."""
    n, k = values.shape
    g, nb = varint_groups(values)
    w = g.shape[1]
    valid = np.arange(w) < nb[:, None]
    return Piece(g.reshape(n, k * w), valid.reshape(n, k * w), nb.reshape(n, k).sum(1))


_PADDED_CELLS = 1 << 22  # a padded matrix's index takes 8 bytes a cell: at most 32 MB of it


def blob(buf: np.ndarray, lens: np.ndarray) -> Piece:
    """Row slices of `buf`; as a matrix where that costs little (it then joins the numpy compaction).

    Rows of one length are the buffer itself, reshaped. Uneven rows are padded only up to
    `_PADDED_CELLS`: the padding's index is 8 bytes a cell, and 10,000 strings of 20 KB padded
    took 16 bytes of memory per byte of data (4.6 GB for 190 MB).
    """
    n, width = len(lens), int(lens.max()) if len(lens) else 0
    if n and len(buf) == n * width:  # every row `width` long
        return Piece(np.asarray(buf).reshape(n, width))
    if n * width > 2 * len(buf) + 64 * n or n * width > _PADDED_CELLS:
        return Piece(buf=buf, lens=lens)
    idx = offsets(lens)[:, None] + np.arange(width)
    valid = np.arange(width) < lens[:, None]
    m = buf[np.minimum(idx, max(len(buf) - 1, 0))] if len(buf) else np.zeros((n, width), np.uint8)
    return Piece(m, valid, lens)


def assemble(pieces: list[Piece], n: int) -> tuple[np.ndarray, np.ndarray]:
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
    sizes = np.stack([l for _, l in parts], 1)
    if n and int(lens.sum()) >= _ROW_BY_ROW * n:  # large rows: copied row by row, the output the only new memory
        return _rows_copied(parts, sizes, lens), lens
    # many small uneven payloads: one C++ gather of (row, part) slices in row-major order
    source = np.concatenate([b for b, _ in parts])
    base = np.cumsum([0] + [len(b) for b, _ in parts[:-1]])
    starts = np.stack([b0 + offsets(l) for b0, (_, l) in zip(base, parts)], 1)
    joined = tf.strings.reduce_join(tf.strings.substr(tf.constant(source.tobytes()), starts, sizes))
    return np.frombuffer(joined.numpy(), np.uint8).copy(), lens


_ROW_BY_ROW = 4096  # bytes a row from which a Python loop over rows costs less than the gather's copies


def _rows_copied(parts: list, sizes: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """`assemble`'s rows, one slice at a time: the gather builds the whole batch four times over (source,
    TF constant, substrings, join), which for rows of megabytes is gigabytes; a slice copy costs ~1 us."""
    out = np.empty(int(lens.sum()), np.uint8)
    at = 0
    starts = [offsets(l).tolist() for _, l in parts]
    for i, row in enumerate(sizes.tolist()):
        for (buf, _), first, size in zip(parts, starts, row):
            out[at : at + size] = buf[first[i] : first[i] + size]
            at += size
    return out


def element_sizes(col: Column, batch: dict) -> np.ndarray:
    """Values per element of one column in a batch."""
    n = int(batch[COUNT])
    if col.fixed:
        return np.full(n, int(np.prod(col.shape, dtype=np.int64)), np.int64)
    return np.prod(batch[col.key("shapes")], axis=1, dtype=np.int64)


def offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1], out=out[1:])
    return out


def segment_sum(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    ends = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    return ends[bounds[1:]] - ends[bounds[:-1]]


class RecordFile:
    """A file of framed records, compressed (GZIP: one gzip stream, as TensorFlow reads it; ZLIB) and hashed on the way out.

    What is written is also synced as it goes, in a thread (one sync at a time per file): the
    save's own sync before its commit then finds little left to write. Measured on the images
    workload's 123 MB tfdata file: the sync at the end alone cost 0.1 s of a 0.45 s save.
    """

    def __init__(self, path: Path, compression: str | None):
        self.path, self.file = path, open(path, "wb")
        wbits = {"GZIP": 31, "ZLIB": 15}.get(compression)
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, wbits) if wbits else None
        self.hasher, self.bytes, self.records = Hasher(background=True), 0, 0
        self.lengths: list[np.ndarray] = []
        self._synced: Future | None = None

    def _out(self, data: bytes) -> None:
        self.file.write(data)
        self.hasher.update(data)
        self.bytes += len(data)

    def write(self, data: bytes, lengths: np.ndarray) -> None:
        self._out(self.compressor.compress(data) if self.compressor else data)
        self.records += len(lengths)
        self.lengths.append(lengths)
        if self._synced is None or self._synced.done():
            if self._synced is not None:
                self._synced.result()  # a failed sync (EIO, a full disk) fails the write
            self._synced = _syncs().submit(os.fsync, self.file.fileno())

    def close(self) -> Digest:
        """Finish the file; its digest (also after a failed write: the hashing thread ends here, not at garbage collection)."""
        if not self.file.closed:
            try:
                if self.compressor:
                    self._out(self.compressor.flush())
                if self._synced is not None:
                    self._synced.result()  # before the descriptor goes (it could be another file's by then)
            finally:
                self.file.close()
                self.digest = self.hasher.digest()
        return self.digest


@functools.cache
def _syncs() -> ThreadPoolExecutor:
    """The threads that sync record files as they are written (shared: a save may write many shards)."""
    return ThreadPoolExecutor(2, thread_name_prefix="dataset_assets-sync")
