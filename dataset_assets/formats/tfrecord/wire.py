"""The protobuf wire format of `tf.train.Example`s, written with numpy for a whole block of records at once.

`Encoder` turns a batch of stream arrays into its framed TFRecords: numpy lays out the
Examples side by side from the pieces of `_recordio` (shared with tfdata), so no Python
builds anything per element (`tf.io.encode_proto` was ~0.5 µs per record per nested message,
too slow). The rest is the payload of each column kind.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ...columns import COUNT, Column, Layout
from .._recordio import Piece, assemble, blob, const, element_sizes, frame, int64_rows, segment_sum, varint, varint_bytes, varint_groups, varint_len
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
            sizes = element_sizes(col, batch)
            tag = NATIVE.get(col.dtype, ("", "bytes_list"))[1]
            entries.append(self._entry(col.name, _TAGS[tag], _payload(col, batch, sizes, n), not col.is_string, n))
            if not col.fixed:
                shapes = batch[col.key("shapes")]
                entries.append(self._entry(f"{col.name}#shape", _TAGS["int64_list"], int64_rows(shapes), True, n))
        pieces = []
        for entry_pieces, length in entries:
            pieces += entry_pieces
            total += length
        record_len = 1 + varint_len(total) + total  # an Example: field 1, the Features message
        framed, lengths = frame([([const(n, b"\x0a"), varint(total), *pieces], record_len)], n)
        return framed, lengths[:, 0]

    def _entry(self, name: str, tag: bytes, payload: "Piece", wrap: bool, n: int):
        """One Features map entry {key, Feature{<tag>: list}}; `wrap`: the list is one length-delimited field 1
        around the payload (a packed Int64List/FloatList or a single raw BytesList value); else the payload is the list."""
        key = self.keys[name]
        if wrap:
            lp = payload.lens
            inner = [const(n, b"\x0a"), varint(lp), payload]
            llist = 1 + varint_len(lp) + lp
        else:
            inner, llist = [payload], payload.lens
        lfeat = 1 + varint_len(llist) + llist
        head = b"\x0a" + varint_bytes(len(key)) + key + b"\x12"
        lentry = len(head) - 1 + 1 + varint_len(lfeat) + lfeat
        pieces = [const(n, b"\x0a"), varint(lentry), const(n, head), varint(lfeat), const(n, tag), varint(llist), *inner]
        return pieces, 1 + varint_len(lentry) + lentry


_TAGS = {"bytes_list": b"\x0a", "float_list": b"\x12", "int64_list": b"\x1a"}  # Feature's oneof fields 1..3


def _payload(col: Column, batch: dict, sizes: np.ndarray, n: int) -> Piece:
    values = np.ascontiguousarray(batch[col.key("values")])
    if col.is_string:  # a BytesList: per string, field 1 = length + bytes
        lengths = batch[col.key("lengths")].astype(np.int64)
        strings = blob(values.reshape(-1), lengths)
        buf, entry = assemble([const(len(lengths), b"\x0a"), varint(lengths), strings], len(lengths))
        return blob(buf, segment_sum(entry, sizes))
    if col.dtype == tf.int64:
        if col.fixed:
            return int64_rows(values.reshape(n, int(sizes[0]) if n else 0))
        g, nb = varint_groups(values)
        return blob(g[np.arange(g.shape[1]) < nb[:, None]], segment_sum(nb, sizes))
    flat = values.astype(values.dtype.newbyteorder("<"), copy=False)  # float32 (packed) and raw: little-endian bytes
    if col.fixed:
        return Piece(flat.reshape(-1).view(np.uint8).reshape(n, (int(sizes[0]) if n else 0) * flat.dtype.itemsize))
    return blob(flat.reshape(-1).view(np.uint8), sizes * flat.dtype.itemsize)
