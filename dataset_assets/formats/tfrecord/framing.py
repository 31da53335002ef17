"""TFRecord framing, checked before TensorFlow reads a file: no length prefix can make it allocate past the file.

TensorFlow's reader of uncompressed TFRecords reserves a record's length before reading it: a
crafted length prefix of 2^40 (with a valid length CRC) aborts the process on the refused
allocation (the compressed readers grow their buffer as they read and fail cleanly). So the
writer records every record's length in `INDEX` (little-endian int64s, file after file), and
before any uncompressed file is read, numpy checks, for all records at once, that the lengths
tile the file exactly and that every length prefix in the file equals its recorded length.
Artifacts written before the index existed (format version 1) are walked record by record.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import threading
from pathlib import Path

import numpy as np

from ...errors import ArtifactError
from ...manifest import Manifest, open_member
from ...storage.checksums import Digest, digest_bytes
from .._recordio import FRAME

INDEX = "record_lengths.npy"
_HEADS_AT_ONCE = 1 << 16


INDEX_EVERY = 1 << 17  # the manifest keeps where every 131,072th record starts: one group of lengths is 1 MiB of the index


def write_index(directory: Path, lengths: list[np.ndarray]) -> tuple[Digest, dict]:
    """Write the record lengths of every file, in file order; returns the index file's digest and the details that locate
    its groups (`RecordIndex`): `index_every` and `index_offsets`, where each group's first record starts in the files
    laid end to end."""
    flat = np.concatenate(lengths).astype("<i8") if lengths else np.zeros(0, "<i8")
    out = io.BytesIO()
    np.save(out, flat, allow_pickle=False)
    data = out.getvalue()
    with open(directory / INDEX, "wb") as f:
        f.write(data)
    framed = flat.astype(np.int64) + FRAME
    starts = np.cumsum(framed) - framed
    return digest_bytes(data), {"index_every": INDEX_EVERY, "index_offsets": starts[::INDEX_EVERY].tolist()}


class RecordIndex:
    """Each record's length and place, by index position (file after file), read from `INDEX` a group at a time.

    The manifest's details keep where the first record of every group of `index_every` starts
    in the files laid end to end (`index_offsets`), so a record's place is a sum over one group:
    a slice or a shard reads the groups it falls in (1 MiB of the index each), not the whole
    index (8 bytes an element: 8 MB for a million elements, more than a 1% slice of them).
    Each group is checked as it is read: its lengths must add up to where the next group starts.
    Artifacts saved before the table existed read the whole index once, as one group.
    """

    def __init__(self, directory: Path, manifest: Manifest, total_bytes: int):
        self.reader = open_member(directory, manifest, INDEX)
        self.path, self.total, n = self.reader.path, total_bytes, manifest.num_elements
        # the lengths are the file's last 8n bytes (np.save's header before them is left unread: a slice reads no
        # block it does not need); what they hold is checked group by group against the manifest's offsets
        self.data_at = self.reader.size - 8 * n
        if self.data_at < 16:
            raise ArtifactError(f"{self.path}: holds {self.reader.size} bytes, too few for the lengths of the manifest's {n} records; re-create the artifact with save()")
        every, offsets = manifest.details.get("index_every"), manifest.details.get("index_offsets")
        self.groups: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.lock = threading.Lock()
        if isinstance(every, int) and every > 0 and isinstance(offsets, list) and len(offsets) == -(-n // every) and all(isinstance(o, int) for o in offsets):
            self.every, self.offsets = every, offsets
        else:  # saved without the table: the whole index is one group
            self.every, self.offsets = max(n, 1), [0]
        self.count = n

    def one(self, position: int) -> tuple[int, int]:
        """(data length, where the record's length prefix starts in the files laid end to end) of one record."""
        lengths, starts = self._group(position // self.every)
        within = position % self.every
        return int(lengths[within]), int(starts[within])

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`one` of every position: (data lengths, starts)."""
        group, within = np.divmod(positions, self.every)
        lengths, starts = np.empty(len(positions), np.int64), np.empty(len(positions), np.int64)
        for k in np.unique(group).tolist():  # a loop over groups (a million records are 8), not records
            mine = group == k
            group_lengths, group_starts = self._group(k)
            lengths[mine], starts[mine] = group_lengths[within[mine]], group_starts[within[mine]]
        return lengths, starts

    def _group(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        group = self.groups.get(k)
        if group is not None:
            return group
        with self.lock:  # the pipeline's threads ask for the same group at once: read it once
            group = self.groups.get(k)
            return group if group is not None else self._read_group(k)

    def _read_group(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = k * self.every, min((k + 1) * self.every, self.count)
        lengths = np.frombuffer(self.reader.read(self.data_at + 8 * lo, 8 * (hi - lo)), "<i8").astype(np.int64)
        framed = lengths + FRAME
        starts = self.offsets[k] + np.cumsum(framed) - framed
        end = self.offsets[k + 1] if k + 1 < len(self.offsets) else self.total
        if len(lengths) and (lengths.min() < 0 or int(starts[-1] + framed[-1]) != end):
            raise ArtifactError(
                f"{self.path}: records {lo}..{hi} of the record index end at byte {int(starts[-1] + framed[-1])} of the files laid end to end, "
                f"where the manifest's index_offsets (or the files' sizes) put {end}; the artifact is damaged, re-create it with save()"
            )
        self.groups[k] = (lengths, starts)
        return lengths, starts


def check_files(directory: Path, manifest: Manifest, files: list[str], counts: list[int]) -> None:
    """Refuse (ArtifactError, naming the file and record) any uncompressed file whose framing is not exactly what was written."""
    check = file_checker(directory, manifest, files, counts)
    for path in files:
        check(path)


def file_checker(directory: Path, manifest: Manifest, files: list[str], counts: list[int]):
    """`check(path)` for each of `files` in turn (also one at a time, as a remote version's shards arrive); reads the index once."""
    if not any(f.path == INDEX for f in manifest.files):
        if manifest.format_version >= 2:
            raise ArtifactError(f"{directory}/{INDEX} is missing (the manifest does not list it); the artifact is damaged, re-create it with save()")
        return _walk
    lengths = read_index(directory, manifest)
    if len(counts) != len(files) or any(not isinstance(c, int) or c < 0 for c in counts) or sum(counts) != len(lengths):
        raise ArtifactError(
            f"{directory}: the manifest's records_per_file {counts!r} do not match the {len(lengths)} records of {INDEX} "
            f"over {len(files)} file(s); the artifact is damaged, re-create it with save()"
        )
    starts = dict(zip(files, np.cumsum([0, *counts[:-1]]).tolist()))

    def check(path: str) -> None:
        start = starts[path]
        try:
            _check_file(path, lengths[start : start + counts[files.index(path)]])
        except ArtifactError as e:
            _raise_block_damage(directory, manifest, path, e)
            raise

    return check


def _raise_block_damage(directory: Path, manifest: Manifest, path: str, framing_error: ArtifactError) -> None:
    """A file whose bytes changed since the save: name the damaged bytes (block checksums), not only the framing."""
    rel = os.path.relpath(path, directory).replace(os.sep, "/")
    entry = next((f for f in manifest.files if f.path == rel), None)
    if entry is None or not entry.crc32c:
        return
    reader = open_member(directory, manifest, rel)
    try:
        for offset in range(0, entry.bytes, 1 << 24):
            reader.read(offset, min(1 << 24, entry.bytes - offset))
    except ArtifactError as damage:
        raise damage from framing_error
    finally:
        reader.close()


def read_index(directory: Path, manifest: Manifest) -> np.ndarray:
    reader = open_member(directory, manifest, INDEX)
    try:
        lengths = np.load(io.BytesIO(reader.read_all()), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ArtifactError(f"{reader.path}: not a readable record index ({e}); re-create the artifact with save()") from e
    finally:
        reader.close()
    if lengths.dtype != np.dtype("<i8") or lengths.ndim != 1:
        raise ArtifactError(f"{reader.path}: holds {lengths.dtype}{lengths.shape}, not int64 record lengths; re-create the artifact with save()")
    return lengths


def _check_file(path: str, lengths: np.ndarray) -> None:
    size = os.path.getsize(path)
    if len(lengths) and (lengths.min() < 0 or lengths.max() > size):
        raise ArtifactError(f"{path}: the record index gives a record of {int(lengths.max())} bytes, larger than the file; the artifact is damaged")
    ends = np.cumsum(lengths + FRAME)
    if (int(ends[-1]) if len(ends) else 0) != size:
        raise ArtifactError(
            f"{path}: holds {size} bytes, its {len(lengths)} indexed records {int(ends[-1]) if len(ends) else 0}; the file is damaged, re-create the artifact"
        )
    if not len(lengths):
        return
    starts = ends - (lengths + FRAME)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        buf = np.frombuffer(mm, np.uint8)
        try:
            for a in range(0, len(starts), _HEADS_AT_ONCE):
                s, want = starts[a : a + _HEADS_AT_ONCE], lengths[a : a + _HEADS_AT_ONCE]
                got = np.ascontiguousarray(buf[s[:, None] + np.arange(8)]).view("<u8").ravel()
                bad = np.flatnonzero(got != want.astype(np.uint64))
                if len(bad):
                    k = int(bad[0])
                    raise ArtifactError(
                        f"{path}: record {a + k} at byte {int(s[k])} has length prefix {int(got[k])}, the record index says {int(want[k])}; "
                        "the file is damaged or crafted, refusing to read it. Re-create the artifact with save()"
                    )
        finally:
            del buf  # the map closes only once no array views it


def _walk(path: str) -> None:
    """Artifacts without an index: follow the length prefixes one by one, each within the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset, record = 0, 0
        while offset < size:
            f.seek(offset)
            head = f.read(8)
            if len(head) < 8:
                raise ArtifactError(f"{path}: ends inside the header of record {record} at byte {offset}; the file is damaged")
            (length,) = struct.unpack("<Q", head)
            if length > size - offset - FRAME:
                raise ArtifactError(f"{path}: record {record} at byte {offset} claims {length} bytes, past the end of the file; the file is damaged or crafted")
            offset += length + FRAME
            record += 1
