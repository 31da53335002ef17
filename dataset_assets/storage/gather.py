"""Many small reads of one artifact file at once, served from a read-only map whose blocks are checked before use: random access.

Sequential readers ask `CheckedFile` for one large range at a time. Random access (`open`,
`load(shuffle_seed=...)`) asks for thousands of small ranges scattered over the file: read
one by one, each would cost a `pread` and a CRC-32C of its whole 1 MiB block. A `BlockGather`
maps the file, checks each block against its CRC-32C the first time a range needs it, and
serves a whole batch of ranges with numpy indexing on the map: Python loops only over blocks
to check, never over the ranges.

A map, not copies of the blocks: a copy needs fresh memory for every block, and the first
touch of fresh memory is the dearest step of a cold read on the VMs we measure on (~11 us a
page: 2.8 ms to fill one block's copy, against ~0.1 ms to check a block through the map, whose
pages are the page cache's own). The map is bounded like a cache: at most `capacity` blocks
stay checked; the oldest is then dropped from the process (`MADV_DONTNEED`: its pages leave the
resident set, the page cache keeps them) and checked again if a range needs it again. So the
resident memory of random access stays within `cache_bytes`, as the block copies' did.

Committed versions are never modified in place (their files are only ever unlinked, which a map
survives), so the bytes checked are the bytes read. A mapped file cut short would end the process
with SIGBUS at the first read past its new end, so every gather first compares the file's size
with the recorded one (an `lseek` to its end, ~0.4 us) and raises ArtifactError, as `pread` would, if it is
shorter: only a cut made in the microseconds between that check and the copy would go unseen.
"""

from __future__ import annotations

import mmap
import threading

import numpy as np

from .checksums import BLOCK_BYTES, CheckedFile


class BlockGather:
    """Ranges of one `CheckedFile`, with at most `cache_bytes` of checked blocks mapped in at a time."""

    def __init__(self, reader: CheckedFile, cache_bytes: int):
        self.reader = reader
        blocks = -(-reader.size // BLOCK_BYTES)
        self.capacity = max(2, min(blocks, cache_bytes // BLOCK_BYTES))
        self.map, self.file = _mapped(reader)
        self.slot_of = np.full(max(blocks, 1), -1, np.int64)  # block -> its slot among the checked ones, or -1
        self.block_in = np.full(self.capacity, -1, np.int64)  # slot -> the block it holds
        self.next_victim = 0
        self.lock = threading.Lock()  # the pipeline reads chunks on several threads

    def fixed(self, starts: np.ndarray, length: int) -> np.ndarray:
        """A `[len(starts), length]` uint8 array: the `length` bytes at each start, in the order given."""
        starts = np.asarray(starts, np.int64)
        if len(starts) == 0 or length == 0:
            return np.zeros((len(starts), length), np.uint8)
        return self.ranges(starts, np.full(len(starts), length, np.int64)).reshape(len(starts), length)

    def ranges(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The bytes of every range `starts[i]..starts[i] + lengths[i]`, concatenated in the order given (uint8)."""
        starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
        if len(starts) == 1:  # one element of `open`: the same steps on Python ints, ~10x faster than numpy's on arrays of one
            return self.one(int(starts[0]), int(lengths[0]))
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, np.uint8)
        ends = starts + lengths
        if starts.min() < 0 or int(ends.max()) > self.reader.size:
            self.reader.read(int(starts.min()), int(ends.max() - starts.min()))  # raises, naming the file and the bytes
        first, last = starts // BLOCK_BYTES, np.maximum(ends - 1, starts) // BLOCK_BYTES
        used = lengths > 0  # an empty range needs no block (and may start at the very end of the file)
        needed = np.unique(np.concatenate([first[used], last[used]]))
        if ((last - first)[used]).max() > 1:  # ranges longer than a block: every block between their ends too
            long = np.flatnonzero(used & (last - first > 1))
            needed = np.unique(np.concatenate([needed, *(np.arange(first[i], last[i] + 1) for i in long)]))
        if len(needed) > self.capacity:  # more blocks than may be checked at once: serve the ranges in two halves
            half = len(starts) // 2
            if half == 0:
                return np.frombuffer(self.reader.read(int(starts[0]), int(lengths[0])), np.uint8).copy()
            return np.concatenate([self.ranges(starts[:half], lengths[:half]), self.ranges(starts[half:], lengths[half:])])
        with self.lock:  # held while copying: no other thread drops a block this request reads
            self.reader.check_size()  # a map read past the file's end: SIGBUS
            self._load(needed)
            if (lengths == lengths[0]).all():  # fixed-size rows: a windowed gather, no index per byte
                return self._rows(starts, int(lengths[0])).reshape(-1)
            within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            return self.file[np.repeat(starts, lengths) + within]

    def one(self, start: int, length: int) -> np.ndarray:
        """The `length` bytes at `start` (uint8): `ranges` of a single range."""
        if length == 0:
            return np.zeros(0, np.uint8)
        first, last = start // BLOCK_BYTES, (start + length - 1) // BLOCK_BYTES
        if start < 0 or start + length > self.reader.size or last - first + 1 > self.capacity:
            return np.frombuffer(self.reader.read(start, length), np.uint8).copy()  # raises past the end, naming the file
        with self.lock:
            self.reader.check_size()  # a map read past the file's end: SIGBUS
            if first != last or self.slot_of[first] < 0:
                self._load(np.arange(first, last + 1))
            return self.file[start : start + length].copy()

    def _load(self, needed: np.ndarray) -> None:
        """Check every block in `needed` not checked yet, dropping (round robin) only blocks this request does not use."""
        missing = needed[self.slot_of[needed] < 0]
        if not len(missing):
            return
        keep = np.zeros(self.capacity, bool)
        held = self.slot_of[needed]
        keep[held[held >= 0]] = True
        for block in missing.tolist():  # a check per block: the loop is over blocks, not over elements
            while keep[self.next_victim]:
                self.next_victim = (self.next_victim + 1) % self.capacity
            slot = self.next_victim
            old = int(self.block_in[slot])
            if old >= 0:
                self.slot_of[old] = -1
                lo = old * BLOCK_BYTES
                self.map.madvise(mmap.MADV_DONTNEED, lo, min(BLOCK_BYTES, self.reader.size - lo))  # out of the resident set
            lo = block * BLOCK_BYTES
            self.reader.check_block(block, self.file[lo : lo + BLOCK_BYTES])
            self.block_in[slot], self.slot_of[block] = block, slot
            keep[slot] = True
            self.next_victim = (slot + 1) % self.capacity  # round robin: the empty slots first, then the oldest

    def _rows(self, at: np.ndarray, length: int) -> np.ndarray:
        """The `length` bytes at each file position, as rows; copied in words where every row is aligned to one."""
        word = _word(length, at)
        words = self.file[: len(self.file) // word.itemsize * word.itemsize].view(word)
        at, width = at // word.itemsize, length // word.itemsize
        phase = int(at[0] % width)
        if (at % width == phase).all():  # rows on one grid (power-of-two rows): a 2-D take, 5x faster
            grid = words[phase : phase + (len(words) - phase) // width * width].reshape(-1, width)
            return np.take(grid, (at - phase) // width, axis=0).view(np.uint8)
        return np.lib.stride_tricks.sliding_window_view(words, width)[at].view(np.uint8)


def _mapped(reader: CheckedFile) -> tuple[mmap.mmap | None, np.ndarray]:
    """The file's recorded bytes, mapped read-only, and a uint8 view of them; raises if the file is shorter."""
    reader.check_size()
    if reader.size == 0:
        return None, np.zeros(0, np.uint8)
    mapped = mmap.mmap(reader.fd, reader.size, access=mmap.ACCESS_READ)
    return mapped, np.frombuffer(mapped, np.uint8)


def _word(length: int, positions: np.ndarray) -> np.dtype:
    """The widest unsigned integer that divides the row length and every row's position."""
    common = length | (int(np.bitwise_or.reduce(positions)) if len(positions) else 0)
    for word in (np.uint64, np.uint32, np.uint16):
        if common % np.dtype(word).itemsize == 0:
            return np.dtype(word)
    return np.dtype(np.uint8)
