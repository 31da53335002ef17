"""`npy`: one `.npy` file per stream, read back in chunks, never pickled.

Files are written in one streaming pass, nothing held in memory. Where the dataset's
cardinality gives a stream's row count in advance, the final header goes first and the
file's SHA-256 is computed on the way out; otherwise the header is reserved, filled in
when the stream ends, and the file hashed by reading it back.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..columns import Layout
from ..errors import ArtifactError
from ..manifest import Manifest, open_member
from ..storage.checksums import Hasher
from ..storage.gather import BlockGather
from .base import Written, unknown_options
from ._columnar import RANDOM_CACHE_BYTES, ColumnRows, read_streams, write_streams

NAME = "npy"
VERSION = 1
RANGES = True  # `read` takes `elements=`: a slice or shard reads only its part
SHUFFLES = True  # `read` takes `shuffle_seed=`: a global shuffle
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
        digests={f"{key}.npy": s.digest for key, s in sinks.items()},
    )


def read(
    directory: Path, manifest: Manifest, layout: Layout, checked: bool = True, elements: range | None = None, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    return read_streams(layout, open_streams(directory, manifest, layout, checked), manifest.num_elements, elements, shuffle_seed)


def open_rows(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> ColumnRows:
    """Random access (`dataset_assets.open`): the streams of any elements, gathered from cached, checked blocks."""
    return ColumnRows(layout, open_streams(directory, manifest, layout, checked), manifest.num_elements)


def open_streams(directory: Path, manifest: Manifest, layout: Layout, checked: bool) -> dict[str, "_NpyFile"]:
    dtypes = {col.key(s): col.stream_dtype(s) for col, s in layout.stream_keys()}
    sizes = {f.path: f.bytes for f in manifest.files}
    total = max(sum(sizes.get(rel, 0) for rel in manifest.details["streams"].values()), 1)
    arrays = {}
    for key, rel in manifest.details["streams"].items():
        cache = max(RANDOM_CACHE_BYTES * sizes.get(rel, 0) // total, 4 << 20)  # the bound shared by size
        arrays[key] = _NpyFile(open_member(directory, manifest, rel, checked), dtypes.get(key), cache)
    return arrays


class _NpyFile:
    """Row slices of a .npy file, read with `pread` as the pipeline asks for them, each block checked.

    Not a memory map: every page of a map that was read counts as the process's resident
    memory until it is unmapped (5 GB resident after iterating a 4 GB artifact once).
    """

    def __init__(self, reader, expected: np.dtype | None, cache_bytes: int = 0):
        path = reader.path
        self.cache_bytes, self._gather = cache_bytes, None
        try:
            f = io.BytesIO(reader.read(0, min(reader.size, _HEADER_BYTES * 4)))
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            self.shape, fortran, self.dtype = read_header(f, max_header_size=_HEADER_BYTES * 4)
            self.offset = f.tell()
        except (ValueError, OSError, SyntaxError) as e:
            raise ArtifactError(f"{path}: not a readable .npy file ({e}); re-create the artifact with save()") from e
        if fortran or self.dtype.hasobject or (expected is not None and self.dtype != expected):
            raise ArtifactError(f"{path}: holds {self.dtype} (fortran_order={fortran}), the manifest's spec needs {expected}; re-create the artifact with save()")
        if not self.shape or any(d < 0 for d in self.shape):
            raise ArtifactError(f"{path}: its header gives shape {self.shape}, not rows of a stream; re-create the artifact with save()")
        self.path = self.where = path
        self.reader = reader
        self.row_bytes = math.prod(self.shape[1:]) * self.dtype.itemsize  # Python ints: a crafted header cannot overflow
        if self.offset + self.shape[0] * self.row_bytes != reader.size:
            raise ArtifactError(
                f"{path}: its header gives shape {self.shape} ({self.shape[0] * self.row_bytes} bytes of data), but the file holds "
                f"{reader.size - self.offset}; the file or its header is damaged, re-create the artifact with save()"
            )

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0] if self.shape else 1)
        count = max(stop - start, 0)
        data = self.reader.read(self.offset + start * self.row_bytes, count * self.row_bytes)
        return np.frombuffer(data, self.dtype).reshape(count, *self.shape[1:])


    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows `lo..hi` for random access, from cached, checked blocks."""
        if self._gather is None:
            self._gather = BlockGather(self.reader, self.cache_bytes)
        return self._gather.one(self.offset + lo * self.row_bytes, (hi - lo) * self.row_bytes).view(self.dtype).reshape(hi - lo, *self.shape[1:])

    def ranges(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Rows `lo[i]..hi[i]` for every i, concatenated: scattered reads served from cached, checked blocks."""
        if self._gather is None:
            self._gather = BlockGather(self.reader, self.cache_bytes)
        data = self._gather.ranges(self.offset + lo * self.row_bytes, (hi - lo) * self.row_bytes)
        return data.view(self.dtype).reshape(int((hi - lo).sum()), *self.shape[1:])  # the count, not -1: rows may hold 0 bytes


class _NpyStream:
    def __init__(self, path: Path, dtype: np.dtype, inner_shape: tuple, expected_rows: int | None = None):
        self.path, self.dtype, self.inner_shape = path, np.dtype(dtype), tuple(inner_shape)
        self.expected_rows = expected_rows
        self.rows = 0
        self.file = open(path, "wb")
        header = self._header(expected_rows or 0)
        self.file.write(header)
        self._hash = Hasher(background=True) if expected_rows is not None else None
        if self._hash is not None:
            self._hash.update(header)
        self.digest = None

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
            self.digest = self._hash.digest()
            return
        if self._hash is not None:
            self._hash.digest()  # of the wrong header: only its thread ends
        header = self._header(self.rows)  # count unknown up front (or the source's cardinality was wrong)
        self.file.seek(0)
        self.file.write(header)
        self.file.close()
        self.digest = None  # hashed by reading the file back (list_files)
