"""`hdf5`: one `data.h5`, one chunked, resizable HDF5 dataset per stream (h5py).

Strings are stored as the columnar encoding's uint8 bytes + lengths, never as h5py
variable-length or object data, so reading back involves no pickle and no per-element Python.
"""

from __future__ import annotations

import atexit
import errno
import io
import json
import numbers
import os
import weakref
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf

from ..columns import Layout
from ..errors import ArtifactError, StorageFullError, UnsupportedDatasetError
from ..manifest import Manifest, open_member, safe_member
from ..storage.checksums import BLOCK_BYTES
from ..version import __version__
from .base import Written, unknown_options
from ._columnar import RANDOM_CACHE_BYTES, ColumnRows, read_streams, write_streams

NAME = "hdf5"
VERSION = 1
RANGES = True  # `read` takes `elements=`: a slice or shard reads only its part
SHUFFLES = True  # `read` takes `shuffle_seed=`: a global shuffle
FILE = "data.h5"
COMPRESSIONS = (None, "gzip", "lzf")
OPTIONS = {"compression": None, "compression_opts": None, "chunk_bytes": 1 << 20}
_MAX_CHUNK_BYTES = 1 << 30  # HDF5 refuses chunks of 4 GiB and more


def check(layout: Layout, options: dict) -> dict:
    options = unknown_options(NAME, options, OPTIONS)
    compression, level, chunk = options["compression"], options["compression_opts"], options["chunk_bytes"]
    if compression not in COMPRESSIONS:
        raise UnsupportedDatasetError(f"hdf5 option compression={compression!r} is not supported; use one of {COMPRESSIONS}")
    if compression == "gzip":
        if level is None:
            level = 4
        if not _is_int(level) or not 0 <= level <= 9:
            raise UnsupportedDatasetError(f"hdf5 option compression_opts={level!r}: the gzip level must be an int from 0 to 9")
    elif level is not None:
        raise UnsupportedDatasetError(
            f"hdf5 option compression_opts={level!r} only applies to compression='gzip' (got compression={compression!r}); leave it out"
        )
    if not _is_int(chunk) or not 1 <= chunk <= _MAX_CHUNK_BYTES:
        raise UnsupportedDatasetError(f"hdf5 option chunk_bytes={chunk!r} must be an int from 1 to {_MAX_CHUNK_BYTES} (bytes per chunk)")
    return {"compression": compression, "compression_opts": None if level is None else int(level), "chunk_bytes": int(chunk)}


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    try:
        return _write(dataset, layout, directory, options, fingerprinter)
    except (OSError, RuntimeError) as e:  # h5py reports a failed write as either, errno only in the message
        if isinstance(e, StorageFullError) or not (getattr(e, "errno", None) == errno.ENOSPC or "errno = 28" in str(e)):
            raise
        raise StorageFullError(errno.ENOSPC, f"{directory / FILE}: the disk is full ({str(e).splitlines()[0]})") from e


def _write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    chunk_bytes = options["chunk_bytes"]
    names: dict[str, str] = {}
    room = _Room(directory, len(layout.stream_keys()) * 2 * chunk_bytes + _METADATA_RESERVE)
    # room for two chunks per dataset: the partial chunk at the end of a batch stays cached until the next batch fills it
    # chunks of nearly a checksum block or more start on a block boundary: a checked read of one then reads
    # it straight into libhdf5's buffer (`CheckedFile.readinto`) instead of two blocks copied piece by piece;
    # smaller ones would waste more than 1/8 of their size in padding and are left where libhdf5 puts them
    aligned = {"alignment_threshold": BLOCK_BYTES * 7 // 8, "alignment_interval": BLOCK_BYTES}
    with h5py.File(directory / FILE, "w", rdcc_nbytes=2 * chunk_bytes + (1 << 16), **aligned) as f:
        f.attrs["dataset_assets.format"] = NAME
        f.attrs["dataset_assets.format_version"] = VERSION
        f.attrs["dataset_assets.library_version"] = __version__
        f.attrs["dataset_assets.streams"] = json.dumps([col.key(s) for col, s in layout.stream_keys()])

        def open_sink(key, dtype, inner_shape, rows):
            names[key] = key
            return _H5Stream(f, key, dtype, inner_shape, options, room)

        write_streams(dataset, layout, open_sink, fingerprinter, f"save hdf5 {directory.name}")
    return Written(details={"file": FILE, "streams": names})


def read(
    directory: Path, manifest: Manifest, layout: Layout, checked: bool = True, elements: range | None = None, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    arrays = open_streams(directory, manifest, layout, checked, scattered=shuffle_seed is not None)
    return read_streams(layout, arrays, manifest.num_elements, elements, shuffle_seed)


def open_rows(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> ColumnRows:
    """Random access (`dataset_assets.open`): the streams of any elements, through a large chunk cache."""
    return ColumnRows(layout, open_streams(directory, manifest, layout, checked, scattered=True), manifest.num_elements)


def open_streams(directory: Path, manifest: Manifest, layout: Layout, checked: bool, scattered: bool = False) -> dict:
    """Every stream's HDF5 dataset; `scattered` (reads all over the file): libhdf5 keeps up to RANDOM_CACHE_BYTES of chunks."""
    rel = manifest.details.get("file", FILE)
    path = safe_member(directory, rel)
    chunk = manifest.options.get("chunk_bytes")
    chunk = chunk if _is_int(chunk) and 1 <= chunk <= _MAX_CHUNK_BYTES else OPTIONS["chunk_bytes"]
    try:
        # read-only, through a file object whose reads are checked block by block; the chunk cache
        # holds a couple of chunks so reads that straddle a chunk decompress it once
        source = _CheckedIO(open_member(directory, manifest, rel)) if checked else path
        cache = {"rdcc_nbytes": RANDOM_CACHE_BYTES, "rdcc_nslots": 100_003} if scattered else {"rdcc_nbytes": 2 * chunk + (1 << 16)}
        f = h5py.File(source, "r", **cache)
        if checked:
            _OPEN_ON_FILE_OBJECTS.add(f)
    except OSError as e:
        raise ArtifactError(f"{path}: not a readable HDF5 file ({e}); re-create the artifact with save()") from e
    try:
        return _open_streams(f, path, manifest, layout)
    except BaseException:
        f.close()
        raise


# libhdf5 closes files still open in its own exit handler, after Python has shut down; for a file
# on a Python file object that calls back into Python and crashes the process. Close them first.
_OPEN_ON_FILE_OBJECTS: "weakref.WeakSet[h5py.File]" = weakref.WeakSet()


@atexit.register
def _close_file_object_files() -> None:
    for f in list(_OPEN_ON_FILE_OBJECTS):
        try:
            f.close()
        except Exception:  # noqa: BLE001 - exiting: nothing left to report to
            pass


def _open_streams(f: h5py.File, path: Path, manifest: Manifest, layout: Layout) -> dict:
    """The HDF5 dataset of every stream, as named by the manifest and checked against the layout."""
    streams, n, arrays = manifest.details.get("streams", {}), manifest.num_elements, {}
    for col, s in layout.stream_keys():
        key = col.key(s)
        name = streams.get(key)
        link = f.get(name, getlink=True) if isinstance(name, str) and name else None  # the link itself, not resolved
        if link is not None and not isinstance(link, h5py.HardLink):
            raise ArtifactError(
                f"{path}: stream {key!r} ({col.name}) is an HDF5 {type(link).__name__} to {getattr(link, 'filename', '')!r}:{getattr(link, 'path', '')!r}, "
                "not a dataset in the file; an artifact never reads from outside itself, refusing it"
            )
        if link is None or not isinstance(f[name], h5py.Dataset):
            raise ArtifactError(f"{path}: stream {key!r} ({col.name}) has no HDF5 dataset; the artifact is damaged, re-create it")
        ds = f[name]
        if ds.is_virtual or ds.external:
            what = "a virtual dataset (its data is mapped from other files)" if ds.is_virtual else f"stored in external files {[e[0] for e in ds.external]!r}"
            raise ArtifactError(f"{path}: HDF5 dataset {name!r} ({col.name}) is {what}; an artifact never reads from outside itself, refusing it")
        inner = tuple(col.stream_inner_shape(s))
        per_element = s == "shapes" or (s == "values" and col.fixed and not col.is_string)
        if ds.dtype != col.stream_dtype(s) or ds.shape[1:] != inner or (per_element and ds.shape[0] != n):
            raise ArtifactError(
                f"{path}: HDF5 dataset {name!r} is {ds.dtype}{ds.shape}, expected {col.stream_dtype(s)} rows of shape {inner}"
                + (f" x {n}" if per_element else "")
                + "; the artifact is damaged, re-create it"
            )
        arrays[key] = _Held(ds, f, f"{path}:{name}")
    return arrays


class _CheckedIO(io.RawIOBase):
    """A read-only file object over a `CheckedFile`, for h5py's file-object driver: libhdf5 reads through it."""

    def __init__(self, reader):
        self.reader, self.pos = reader, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.reader.size + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = max(min(len(view), self.reader.size - self.pos), 0)
        self.reader.readinto(self.pos, view[:n])
        self.pos += n
        return n


class _Held:
    """An HDF5 dataset that keeps its file open for as long as a pipeline can read from it.

    h5py serialises all HDF5 calls behind one global lock, so the parallel chunk reads of
    `read_streams` are safe; they only overlap with decoding, which runs outside that lock.
    """

    __slots__ = ("dataset", "file", "where")

    def __init__(self, dataset: h5py.Dataset, file: h5py.File, where: str):
        self.dataset, self.file, self.where = dataset, file, where

    def __len__(self) -> int:
        return self.dataset.shape[0]

    @property
    def chunk_rows(self) -> int:
        """Rows per HDF5 chunk (what libhdf5 reads and decompresses at once); about 1 MiB of rows if not chunked."""
        if self.dataset.chunks:
            return self.dataset.chunks[0]
        return max((1 << 20) // max(self.dataset.dtype.itemsize * int(np.prod(self.dataset.shape[1:], dtype=np.int64)), 1), 1)

    def __getitem__(self, index):
        return self.dataset[index]


_METADATA_RESERVE = 4 << 20  # what closing the file may still write: B-tree nodes, superblock, heaps


class _Room:
    """Refuses a write the disk has no room for, before libhdf5 attempts it.

    libhdf5 does not recover from a failed write: it can leave the file half-flushed and, in
    its own clean-up, crash the process. So before every batch the free space is compared with
    the batch plus `reserve` (the dirty chunks its cache may still flush, and the metadata
    written on close), and the save stops with `StorageFullError` while closing is still safe.
    """

    def __init__(self, directory: Path, reserve: int):
        self.directory, self.reserve = directory, reserve

    def claim(self, nbytes: int) -> None:
        st = os.statvfs(self.directory)
        free = st.f_bavail * st.f_frsize
        if free < nbytes + self.reserve:
            raise StorageFullError(
                errno.ENOSPC,
                f"{self.directory / FILE}: {free / 1e6:.1f} MB free on the disk, the next write needs {nbytes / 1e6:.1f} MB "
                f"plus {self.reserve / 1e6:.1f} MB that HDF5 may still flush: the disk is full. Free space or save elsewhere (the previous version is untouched)",
            )


class _H5Stream:
    """Appends batches to one resizable dataset, created at the first batch so its chunk fits the data seen."""

    def __init__(self, f: h5py.File, name: str, dtype: np.dtype, inner_shape: tuple, options: dict, room: _Room):
        self.f, self.name, self.dtype, self.inner = f, name, np.dtype(dtype), tuple(inner_shape)
        self.options, self.room = options, room
        self.rows = 0
        self.ds: h5py.Dataset | None = None
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.inner, dtype=np.int64))

    def _create(self, first_rows: int) -> None:
        # a small first batch means a small stream: no chunk larger than it (HDF5 allocates whole chunks)
        rows = max(1, min(self.options["chunk_bytes"] // max(self.row_bytes, 1), first_rows))
        self.ds = self.f.create_dataset(
            self.name,
            shape=(0, *self.inner),
            maxshape=(None, *self.inner),
            chunks=(rows, *self.inner),
            dtype=self.dtype,
            compression=self.options["compression"],
            compression_opts=self.options["compression_opts"],
            track_times=False,  # identical data -> identical bytes
        )

    def append(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=self.dtype)
        n = array.shape[0]
        if self.row_bytes == 0:  # zero-size rows: nothing to store, only the count (see close)
            self.rows += n
            return
        if self.ds is None:
            self._create(n)
        if n:
            self.room.claim(array.nbytes)
            self.ds.resize(self.rows + n, axis=0)
            self.ds[self.rows : self.rows + n] = array
            self.rows += n

    def close(self) -> None:
        if self.row_bytes == 0:  # HDF5 chunks cannot have a zero dimension; a contiguous dataset holds no bytes
            self.f.create_dataset(self.name, shape=(self.rows, *self.inner), dtype=self.dtype, track_times=False)
        elif self.ds is None:
            self._create(1)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
