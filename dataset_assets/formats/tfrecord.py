"""`tfrecord`: one `tf.train.Example` per element, readable with plain TensorFlow (see docs/tfrecord.md).

Each column (a ragged leaf is several) is a feature named after it. int64, float32 and
string columns are stored natively (flattened); every other dtype as ONE bytes entry of
the flattened tensor's little-endian bytes. A column whose shape varies has a companion
`<name>#shape` int64 feature. The parse spec is written to the manifest's details.

Writing is batched end to end: numpy lays out the protobuf wire format of a whole block of
Examples side by side (their CRC-32C checksums come from google-crc32c, one C call per
record), so no Python builds anything per element (`tf.io.encode_proto` was ~0.5 µs per record per
nested message, too slow). Block `b` goes to file `b % num_shards` (or, with `shard_bytes`,
blocks fill one file after another), so `interleave(cycle_length, block_length)` over the
files restores the saved order exactly.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import google_crc32c
import numpy as np
import tensorflow as tf

from ..columns import COUNT, Column, Layout, batch_size_for, iter_batches, map_plain
from ..errors import ArtifactError, UnsupportedDatasetError
from ..manifest import Manifest, safe_member
from ..progress import Progress
from .base import Written, unknown_options

NAME = "tfrecord"
VERSION = 1
OPTIONS: dict = {"compression": None, "num_shards": None, "shard_bytes": None}
DEFAULT_SHARD_BYTES = 256 << 20
_EXTENSIONS = {None: ".tfrecord", "GZIP": ".tfrecord.gz", "ZLIB": ".tfrecord.zlib"}
_NATIVE = {tf.int64: ("int64", "int64_list"), tf.float32: ("float", "float_list"), tf.string: ("bytes", "bytes_list")}
_RAW = (tf.float16, tf.bfloat16, tf.float64, tf.bool, tf.complex64, tf.complex128)
_RAW += (tf.int8, tf.int16, tf.int32, tf.uint8, tf.uint16, tf.uint32, tf.uint64)
_BLOCK_BYTES = 4 << 20  # one write batch = one interleave block


def check(layout: Layout, options: dict) -> dict:
    options = unknown_options(NAME, options, OPTIONS)
    compression = options["compression"]
    if isinstance(compression, str) and compression.upper() in ("GZIP", "ZLIB"):
        compression = compression.upper()
    elif compression not in (None, ""):
        raise UnsupportedDatasetError(f"tfrecord option compression={compression!r} is not one of None, 'GZIP', 'ZLIB'")
    num_shards, shard_bytes = options["num_shards"], options["shard_bytes"]
    for name, value in (("num_shards", num_shards), ("shard_bytes", shard_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UnsupportedDatasetError(f"tfrecord option {name}={value!r} must be a positive integer")
    if num_shards is not None and shard_bytes is not None:
        raise UnsupportedDatasetError("tfrecord takes num_shards or shard_bytes, not both")
    if num_shards is None and shard_bytes is None:
        shard_bytes = DEFAULT_SHARD_BYTES
    for col in layout.columns:
        if col.dtype not in _NATIVE and col.dtype not in _RAW:
            raise UnsupportedDatasetError(
                f"feature {col.name!r} has dtype {col.dtype.name}, which tfrecord cannot store; cast it to a standard numeric dtype"
            )
    names = [f[k] for f in parse_spec(layout) for k in ("name", "shape_feature") if f[k]]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise UnsupportedDatasetError(
            f"tfrecord feature names must be unique, but {', '.join(map(repr, clashes))} would occur twice "
            "(a dict key containing '/' or '#' mimics another leaf's name); rename the key or use format='npy'"
        )
    return {"compression": compression or None, "num_shards": num_shards, "shard_bytes": shard_bytes}


def parse_spec(layout: Layout) -> list[dict]:
    """The documented per-feature spec (goes to manifest details["features"])."""
    out = []
    for col in layout.columns:
        native = col.dtype in _NATIVE
        out.append(
            {
                "name": col.name,
                "kind": _NATIVE[col.dtype][0] if native else "bytes",
                "encoding": "native" if native else "raw",
                "dtype": col.dtype.name,
                "shape": list(col.shape),
                "shape_feature": None if col.fixed else f"{col.name}#shape",
            }
        )
    return out


# --- writing ---------------------------------------------------------------------------------


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    block = int(min(batch_size_for(layout, _BLOCK_BYTES, dataset), 4096))
    encoder = _Encoder(layout)
    shards = _Shards(directory, options)
    progress = Progress(f"save tfrecord {directory.name}")
    last_short = False
    try:
        for batch in iter_batches(dataset, layout, block):
            n = int(batch[COUNT])
            if last_short:  # interleave(block_length) relies on every block but the last being full
                raise RuntimeError(f"iter_batches yielded a short batch before the end ({n} after a short one)")
            last_short = n < block
            fingerprinter.update(batch)
            data = encoder(batch)
            shards.write(data, n)
            progress.update(n, len(data))
    finally:
        files, digests, counts = shards.close()
    progress.done()
    details = {
        "features": parse_spec(layout),
        "files": files,
        "records_per_file": counts,
        "compression": options["compression"],
        "cycle_length": len(files) if options["num_shards"] else 1,
        "block_length": block,
    }
    return Written(details=details, digests=digests)


class _Encoder:
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

    def __call__(self, batch: dict) -> np.ndarray:
        n = int(batch[COUNT])
        entries, total = [], np.zeros(n, np.int64)
        for col in self.columns:
            sizes = _sizes(col, batch)
            tag = _NATIVE.get(col.dtype, ("", "bytes_list"))[1]
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
        head["crc"] = _mask(_crc_u64(record_len))
        head = _Piece(head.view(np.uint8).reshape(n, 12))
        framed = _assemble([head, _const(n, b"\x0a"), _varint(total), *pieces, _const(n, b"\0\0\0\0")], n)[0]
        starts = np.concatenate([[0], np.cumsum(record_len + 16)[:-1]]) + 12
        crc = _mask(_crc_ranges(framed, starts, record_len)).astype("<u4")
        framed[(starts + record_len)[:, None] + np.arange(4)] = crc.view(np.uint8).reshape(n, 4)
        return framed

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


# --- CRC-32C (the TFRecord checksum) ---------------------------------------------------------------


def _crc_table() -> list[np.ndarray]:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    slicing = [t]  # slicing-by-4: the table of a byte followed by k zero bytes
    for _ in range(3):
        slicing.append((slicing[-1] >> 8) ^ t[slicing[-1] & 0xFF])
    return slicing[::-1]


_SLICING = _crc_table()


def _crc_u64(values: np.ndarray) -> np.ndarray:
    """CRC-32C of every 8-byte little-endian value (the record length headers), vectorised."""
    words = values.astype("<u8").view("<u4").reshape(-1, 2)
    return ~_apply(_SLICING, _apply(_SLICING, ~words[:, 0]) ^ words[:, 1])


def _apply(tables, v):
    return tables[0][v & 0xFF] ^ tables[1][(v >> 8) & 0xFF] ^ tables[2][(v >> 16) & 0xFF] ^ tables[3][v >> 24]


def _crc_ranges(buf: np.ndarray, starts, lens) -> np.ndarray:
    """CRC-32C of buf[starts[i] : starts[i] + lens[i]] for every i.

    google-crc32c uses the CPU's CRC instructions: ~0.5 us per record plus ~0.01 ns per byte
    here, 4x (300-byte records) to 9x (12 KB records) faster than a vectorised numpy CRC.
    """
    data = buf.tobytes()
    ranges = zip(np.asarray(starts).tolist(), np.asarray(lens).tolist())
    return np.fromiter((google_crc32c.value(data[a : a + n]) for a, n in ranges), np.uint32, len(starts))


def _mask(crc: np.ndarray) -> np.ndarray:
    return (((crc >> 15) | (crc << 17)) + np.uint32(0xA282EAD8)).astype(np.uint32)


class _Shards:
    """Blocks round-robin over `num_shards` files, or filling files of ~`shard_bytes` one after another."""

    def __init__(self, directory: Path, options: dict):
        self.directory, self.options = directory, options
        self.ext = _EXTENSIONS[options["compression"]]
        self.files: list[_File] = []
        self.blocks = 0
        for _ in range(options["num_shards"] or 0):
            self._open()

    def _open(self) -> "_File":
        f = _File(self.directory / f".part-{len(self.files):05d}", self.options["compression"])
        self.files.append(f)
        return f

    def write(self, data: bytes, n: int) -> None:
        if self.options["num_shards"]:
            f = self.files[self.blocks % len(self.files)]
        else:
            f = self.files[-1] if self.files and self.files[-1].bytes < self.options["shard_bytes"] else self._open()
        f.write(data, n)
        self.blocks += 1

    def close(self) -> tuple[list[str], dict[str, str], list[int]]:
        if not self.files:
            self._open()
        names, digests, counts = [], {}, []
        for i, f in enumerate(self.files):
            f.close()
            name = f"data-{i:05d}-of-{len(self.files):05d}{self.ext}"
            os.replace(f.path, self.directory / name)  # the count is only known now
            names.append(name)
            digests[name] = f.sha256.hexdigest()
            counts.append(f.records)
        return names, digests, counts


class _File:
    def __init__(self, path: Path, compression: str | None):
        self.path, self.file = path, open(path, "wb")
        wbits = {"GZIP": 31, "ZLIB": 15}.get(compression)
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, wbits) if wbits else None
        self.sha256, self.bytes, self.records = hashlib.sha256(), 0, 0

    def _out(self, data: bytes) -> None:
        self.file.write(data)
        self.sha256.update(data)
        self.bytes += len(data)

    def write(self, data: bytes, n: int) -> None:
        self._out(self.compressor.compress(data) if self.compressor else data)
        self.records += n

    def close(self) -> None:
        if not self.file.closed:
            if self.compressor:
                self._out(self.compressor.flush())
            self.file.close()


# --- reading ---------------------------------------------------------------------------------


def read(directory: Path, manifest: Manifest, layout: Layout) -> tf.data.Dataset:
    details = manifest.details
    missing = sorted({"features", "files", "compression", "cycle_length", "block_length"} - set(details))
    if missing or details["features"] != parse_spec(layout):
        what = f"lacks {', '.join(missing)}" if missing else "has a feature spec that does not match its element_spec"
        raise ArtifactError(f"{directory}/manifest.json {what} (tfrecord details); re-create the artifact with save()")
    files = [str(safe_member(directory, name)) for name in details["files"]]
    compression, cycle, block = details["compression"] or "", int(details["cycle_length"]), int(details["block_length"])

    def records() -> tf.data.Dataset:
        if cycle == 1:  # files filled one after another: read them in sequence
            return tf.data.TFRecordDataset(files, compression, buffer_size=1 << 20)
        # block b is in file b % cycle: a deterministic parallel interleave restores the order
        return tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string)).interleave(
            tf.autograph.experimental.do_not_convert(lambda f: tf.data.TFRecordDataset(f, compression, buffer_size=1 << 20)),
            cycle_length=cycle,
            block_length=block,
            num_parallel_calls=cycle,
            deterministic=True,
        )

    if layout.needs_split:  # as in _columnar.read_streams: one pipeline per leaf, zipped
        leaves = zip(layout.per_leaf(), layout.leaves)
        ds = tf.data.Dataset.zip(layout.pack([_decode(records(), sub, [c.name for c in leaf.columns]) for (sub, _), leaf in leaves]))
    else:
        ds = _decode(records(), layout, [c.name for c in layout.columns])
    return ds.apply(tf.data.experimental.assert_cardinality(manifest.num_elements)).prefetch(tf.data.AUTOTUNE)


def _decode(records: tf.data.Dataset, layout: Layout, names: list[str]) -> tf.data.Dataset:
    """Serialized Examples -> elements: one parse_example per batch, then the shared column decoding."""
    spec = _library_spec(layout, names)
    batch = int(min(batch_size_for(layout, 4 << 20), 4096))

    def decode(serialized):
        return layout.decode_chunk(_to_streams(layout, names, tf.io.parse_example(serialized, spec), serialized))

    ds = map_plain(records.batch(batch), decode).unbatch()
    if layout.needs_finish:
        ds = map_plain(ds, layout.finish_element)
    return ds


def _library_spec(layout: Layout, names: list[str]) -> dict:
    spec = {}
    for col, name in zip(layout.columns, names):
        if col.dtype not in _NATIVE:
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
        if col.dtype not in _NATIVE:
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
