"""Checksums recorded at write time and checked on every read: SHA-256 per file, CRC-32C per block.

`verify` checks the SHA-256 of whole files. Reading checks CRC-32C per `BLOCK_BYTES` block
(google-crc32c uses the CPU's CRC instructions: ~7 GB/s here, against ~1.4 GB/s for SHA-256),
so a reader that needs rows 1,000 to 2,000 of a 4 GB file checks the blocks it reads and no
others. Block checksums are stored in the manifest as base64 of little-endian uint32s.
"""

from __future__ import annotations

import base64
import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import google_crc32c
import numpy as np

from ..errors import ArtifactError

BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class Digest:
    """What is recorded of one file: its size, SHA-256 and the CRC-32C of each block."""

    bytes: int
    sha256: str
    crc32c: str  # base64 of <u4 per block of BLOCK_BYTES


def pack_crcs(crcs) -> str:
    return base64.b64encode(np.asarray(crcs, "<u4").tobytes()).decode("ascii")


def unpack_crcs(text: str, where: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, AttributeError) as e:
        raise ArtifactError(f"{where}: the manifest's block checksums are not valid base64 ({e}); re-create the artifact") from e
    if len(raw) % 4:
        raise ArtifactError(f"{where}: the manifest's block checksums have {len(raw)} bytes, not a multiple of 4; re-create the artifact")
    return np.frombuffer(raw, "<u4")


class Hasher:
    """SHA-256 and block CRC-32C of bytes written in order, without holding more than one block.

    `background=True`: each `update` is hashed on a thread of its own while the caller goes on
    (hashlib and google-crc32c release the GIL), one update in flight at most, so the writer's
    next batch is produced while the last is hashed; the caller must not change the data it
    passed. `digest` waits for it. Writers hash each file while a second SHA-256, the content
    fingerprint, runs on their own thread: the two passes overlap instead of adding up.
    """

    def __init__(self, background: bool = False):
        self._sha = hashlib.sha256()
        self._crcs: list[int] = []
        self._crc = 0  # of the partial block so far
        self._fill = 0
        self.bytes = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dataset_assets-hash") if background else None
        self._pending: Future | None = None

    def update(self, data) -> None:
        if self._pool is None:
            self._update(data)
            return
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self._update, data)

    def _update(self, data) -> None:
        # a uint8 view, never a copy: the bytes written pass through here once
        if isinstance(data, np.ndarray):
            data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        else:
            data = np.frombuffer(data, np.uint8)
        self._sha.update(data)
        self.bytes += len(data)
        pos = 0
        while pos < len(data):
            take = min(BLOCK_BYTES - self._fill, len(data) - pos)
            self._crc = google_crc32c.extend(self._crc, data[pos : pos + take])
            self._fill += take
            pos += take
            if self._fill == BLOCK_BYTES:
                self._crcs.append(self._crc)
                self._crc, self._fill = 0, 0

    def digest(self) -> Digest:
        if self._pool is not None:
            if self._pending is not None:
                self._pending.result()
            self._pool.shutdown()
            self._pool, self._pending = None, None
        crcs = self._crcs + ([self._crc] if self._fill else [])
        return Digest(self.bytes, self._sha.hexdigest(), pack_crcs(crcs))


def digest_bytes(data: bytes) -> Digest:
    h = Hasher()
    h.update(data)
    return h.digest()


def digest_file(path: str | os.PathLike) -> Digest:
    h = Hasher()
    with open(path, "rb") as f:
        while block := f.read(8 * BLOCK_BYTES):
            h.update(block)
    return h.digest()


class CheckedFile:
    """Random reads of one artifact file, each block checked against its recorded CRC-32C before use.

    The last block read is kept, so sequential reads that straddle a block boundary read and
    check it once. `crcs=None` reads unchecked (`load(..., checked=False)`, legacy artifacts).
    """

    def __init__(self, path: str, size: int, crcs: np.ndarray | None):
        self.path, self.size, self.crcs = path, size, crcs
        if crcs is not None and len(crcs) != -(-size // BLOCK_BYTES):
            raise ArtifactError(f"{path}: the manifest records {len(crcs)} block checksums for {size} bytes; re-create the artifact")
        self.fd = os.open(path, os.O_RDONLY)
        self._kept = (-1, b"")

    def close(self, _close=os.close) -> None:  # bound now: at interpreter exit, `__del__` may run after `os` is gone
        if self.fd is not None:
            _close(self.fd)
            self.fd = None

    def __del__(self):
        if getattr(self, "fd", None) is not None:
            self.close()

    def read(self, offset: int, length: int):
        """`length` bytes at `offset` (bytes, or a read-only view of them), checked; raises ArtifactError if the file ends early or a block is damaged."""
        self._check_range(offset, length)
        if length == 0:
            return b""
        first, last = offset // BLOCK_BYTES, (offset + length - 1) // BLOCK_BYTES
        if self.crcs is None:
            return self._pread(offset, length)
        if first == last:  # inside one block: the checked block itself, no copy
            block = self._block(first)
            skip = offset - first * BLOCK_BYTES
            return block if (skip == 0 and len(block) == length) else memoryview(block)[skip : skip + length]
        out = np.empty(length, np.uint8)
        self.readinto(offset, memoryview(out))
        out.flags.writeable = False
        return memoryview(out)

    def readinto(self, offset: int, buffer: memoryview) -> None:
        """Fill `buffer` (a writable byte view) with the bytes at `offset`, checked, each byte copied once.

        A block wholly or mostly inside the range is read straight into `buffer`, the few bytes of
        it outside the range into scratch by the same call, and checked there (`_read_around`). A
        block mostly outside (the ends of a sequential reader's chunks) is read whole on its own and
        kept, since the next read, which in sequential reading starts inside it, needs the rest.
        Used by `read` across blocks and by readers that bring their own buffer (libhdf5 through h5py).
        """
        length = len(buffer)
        self._check_range(offset, length)
        if length == 0:
            return
        if self.crcs is None:
            self._preadinto(offset, buffer)
            return
        end = offset + length
        for k in range(offset // BLOCK_BYTES, (end - 1) // BLOCK_BYTES + 1):
            lo, hi = k * BLOCK_BYTES, min((k + 1) * BLOCK_BYTES, self.size)
            a, b = max(lo, offset), min(hi, end)
            piece = buffer[a - offset : b - offset]
            if k == self._kept[0] or 2 * (b - a) < hi - lo:  # mostly outside the range: read whole and kept, the next read may want the rest
                piece[:] = memoryview(self._block(k))[a - lo : b - lo]
            else:  # wholly or mostly inside: straight into `buffer`, the few bytes outside beside it, all checked as one block
                self._read_around(k, lo, hi, a, b, piece)

    def _check_range(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ArtifactError(f"{self.path}: read of bytes {offset}..{offset + length} is past its recorded size {self.size}; the artifact is damaged")

    def _block(self, k: int) -> bytes:
        """Block `k`, read whole and checked; the last one read is kept."""
        kept = self._kept  # one read of the attribute: chunk reads run on several threads
        if kept[0] == k:
            return kept[1]
        lo = k * BLOCK_BYTES
        block = self._pread(lo, min(lo + BLOCK_BYTES, self.size) - lo)
        self.check_block(k, block)
        self._kept = (k, block)
        return block

    def _read_around(self, k: int, lo: int, hi: int, a: int, b: int, piece: memoryview) -> None:
        """Block `k` (bytes `lo`..`hi`) read by one call: bytes `a`..`b` into `piece`, the rest into scratch, checked together.

        HDF5 chunks aligned to blocks (formats.hdf5) end a few KiB before their block does: the
        chunk goes straight into libhdf5's buffer, and only those few KiB are read on the side.
        """
        parts = [bytearray(a - lo), piece, bytearray(hi - b)]
        done, want = 0, hi - lo
        while done < want:  # preadv may stop short: go on from the first part not yet full
            skip, views = done, []
            for part in parts:
                if skip >= len(part):
                    skip -= len(part)
                    continue
                views.append(memoryview(part)[skip:])
                skip = 0
            n = os.preadv(self.fd, views, lo + done)
            if n == 0:
                self._truncated(lo + done)
            done += n
        crc = 0
        for part in parts:
            if len(part):
                view = np.frombuffer(part, np.uint8)
                view.flags.writeable = False  # google-crc32c takes read-only buffers only
                crc = google_crc32c.extend(crc, view)
        self._check_crc(k, crc, lo, want)

    def check_block(self, k: int, data) -> None:
        """Raise ArtifactError unless `data` (bytes, or a read-only numpy view) is block `k` as written; unchecked files pass."""
        if self.crcs is None:
            return
        if isinstance(data, np.ndarray):
            data.flags.writeable = False  # google-crc32c takes read-only buffers only
        self._check_crc(k, google_crc32c.value(data), k * BLOCK_BYTES, len(data))

    def _check_crc(self, k: int, crc: int, lo: int, length: int) -> None:
        if crc != int(self.crcs[k]):
            raise ArtifactError(
                f"{self.path}: bytes {lo}..{lo + length} (block {k}) do not match the checksum recorded when it was written; "
                "the file is damaged. Re-create the artifact, or load another version"
            )

    def _pread(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            self._truncated(offset + len(data))
        return data

    def _preadinto(self, offset: int, buffer: memoryview) -> None:
        done = 0
        while done < len(buffer):  # preadv may return less than asked (a signal, a huge range): go on where it stopped
            n = os.preadv(self.fd, [buffer[done:]], offset + done)
            if n == 0:
                self._truncated(offset + done)
            done += n

    def check_size(self) -> None:
        """Raise ArtifactError, naming the file and where it ends, if it is now shorter than recorded.

        One `lseek` to the end (0.4 us; `fstat` takes 1.4 us): reads here are `pread`s, which ignore the offset.
        """
        size = os.lseek(self.fd, 0, os.SEEK_END)
        if size < self.size:
            self._truncated(size)

    def _truncated(self, at: int):
        raise ArtifactError(f"{self.path}: ends at byte {at}, its manifest records {self.size} bytes; the file was truncated")

    def read_all(self) -> bytes:
        return self.read(0, self.size)
