"""`npy`: one `.npy` file per stream, memory-mapped on load, never pickled.

Files are written in one streaming pass, nothing held in memory. Where the dataset's
cardinality gives a stream's row count in advance, the final header goes first and the
file's SHA-256 is computed on the way out; otherwise the header is reserved, filled in
when the stream ends, and the file hashed by reading it back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..columns import Layout
from ..manifest import Manifest, safe_member
from . import Written, unknown_options
from ._columnar import read_streams, write_streams

NAME = "npy"
VERSION = 1
OPTIONS: dict = {}
_HEADER_BYTES = 256  # room for any dtype and shape; a multiple of 64 as numpy prefers


def check(layout: Layout, options: dict) -> dict:
    return unknown_options(NAME, options, OPTIONS)


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    sinks: dict[str, _NpyStream] = {}

    def open_sink(key, dtype, inner_shape, rows):
        sinks[key] = _NpyStream(directory / f"{key}.npy", dtype, inner_shape, rows)
        return sinks[key]

    write_streams(dataset, layout, open_sink, fingerprinter, f"save npy {directory.name}")
    return Written(
        details={"streams": {key: f"{key}.npy" for key in sinks}},
        digests={f"{key}.npy": s.sha256 for key, s in sinks.items()},
    )


def read(directory: Path, manifest: Manifest, layout: Layout) -> tf.data.Dataset:
    arrays = {}
    for key, rel in manifest.details["streams"].items():
        path = safe_member(directory, rel)
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        arrays[key] = arr
    return read_streams(layout, arrays, manifest.num_elements)


class _NpyStream:
    def __init__(self, path: Path, dtype: np.dtype, inner_shape: tuple, expected_rows: int | None = None):
        self.path, self.dtype, self.inner_shape = path, np.dtype(dtype), tuple(inner_shape)
        self.expected_rows = expected_rows
        self.rows = 0
        self.file = open(path, "wb")
        header = self._header(expected_rows or 0)
        self.file.write(header)
        self._hash = hashlib.sha256(header) if expected_rows is not None else None
        self.sha256 = ""

    def _header(self, rows: int) -> bytes:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (rows, *self.inner_shape)}
        body = repr(d).encode("latin1")
        pad = _HEADER_BYTES - 10 - len(body) - 1
        if pad < 0:
            raise ValueError(f"npy header for {self.path.name} does not fit in {_HEADER_BYTES} bytes")
        return b"\x93NUMPY\x01\x00" + (len(body) + pad + 1).to_bytes(2, "little") + body + b" " * pad + b"\n"

    def append(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=self.dtype)
        self.rows += array.shape[0] if array.ndim else 1
        self.file.write(array.data)
        if self._hash is not None:
            self._hash.update(array.data)

    def close(self) -> None:
        if self.file.closed:
            return
        if self.rows == self.expected_rows:  # the header written first was right, the hash is done
            self.file.close()  # durability: staging syncs the whole artifact once before it goes live
            self.sha256 = self._hash.hexdigest()
            return
        header = self._header(self.rows)  # count unknown up front (or the source's cardinality was wrong)
        self.file.seek(0)
        self.file.write(header)
        self.file.close()
        h = hashlib.sha256(header)
        with open(self.path, "rb") as f:
            f.seek(len(header))
            while block := f.read(8 << 20):
                h.update(block)
        self.sha256 = h.hexdigest()
