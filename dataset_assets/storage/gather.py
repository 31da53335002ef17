"""Many small reads of one artifact file at once, each block checked once and then kept: random access.

Sequential readers ask `CheckedFile` for one large range at a time. Random access (`open`,
`load(shuffle_seed=...)`) asks for thousands of small ranges scattered over the file: read
one by one, each would cost a `pread` and a CRC-32C of its whole 1 MiB block. A `BlockGather`
keeps the checked blocks in one arena (a numpy buffer of `capacity` blocks, whose pages become
resident only as blocks land in it) and serves a whole batch of ranges with numpy indexing:
Python loops only over blocks that must be read, never over the ranges.
"""

from __future__ import annotations

import threading

import numpy as np

from .checksums import BLOCK_BYTES, CheckedFile


class BlockGather:
    """Ranges of one `CheckedFile`, from at most `cache_bytes` of checked blocks kept in memory."""

    def __init__(self, reader: CheckedFile, cache_bytes: int):
        self.reader = reader
        blocks = -(-reader.size // BLOCK_BYTES)
        self.capacity = max(2, min(blocks, cache_bytes // BLOCK_BYTES))
        self.arena = np.empty(self.capacity * BLOCK_BYTES, np.uint8)  # untouched pages cost no memory
        self.slot_of = np.full(max(blocks, 1), -1, np.int64)  # block -> its slot in the arena, or -1
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
        if len(needed) > self.capacity:  # more blocks than the arena holds: serve the ranges in two halves
            half = len(starts) // 2
            if half == 0:
                return np.frombuffer(self.reader.read(int(starts[0]), int(lengths[0])), np.uint8).copy()
            return np.concatenate([self.ranges(starts[:half], lengths[:half]), self.ranges(starts[half:], lengths[half:])])
        with self.lock:
            self._load(needed)
            return self._copy(starts, lengths, first, last, total)

    def one(self, start: int, length: int) -> np.ndarray:
        """The `length` bytes at `start` (uint8): `ranges` of a single range."""
        if length == 0:
            return np.zeros(0, np.uint8)
        first, last = start // BLOCK_BYTES, (start + length - 1) // BLOCK_BYTES
        if start < 0 or start + length > self.reader.size or last - first + 1 > self.capacity:
            return np.frombuffer(self.reader.read(start, length), np.uint8).copy()  # raises past the end, naming the file
        with self.lock:
            if first != last or self.slot_of[first] < 0:
                self._load(np.arange(first, last + 1))
            if first == last:
                at = int(self.slot_of[first]) * BLOCK_BYTES + start - first * BLOCK_BYTES
                return self.arena[at : at + length].copy()
            out = np.empty(length, np.uint8)
            self._across(start, out)
            return out

    def _load(self, needed: np.ndarray) -> None:
        """Make every block in `needed` resident, evicting (round robin) only blocks this request does not use."""
        missing = needed[self.slot_of[needed] < 0]
        if not len(missing):
            return
        keep = np.zeros(self.capacity, bool)
        held = self.slot_of[needed]
        keep[held[held >= 0]] = True
        for block in missing.tolist():  # a read per block: the loop is over I/O, not over elements
            while keep[self.next_victim]:
                self.next_victim = (self.next_victim + 1) % self.capacity
            slot = self.next_victim
            old = self.block_in[slot]
            if old >= 0:
                self.slot_of[old] = -1
            # read, then copied in: reading straight into the arena (`readinto`) measured 1.5x slower per
            # single element here, its fresh pages faulted in by the kernel's copy instead of by numpy's
            data = self.reader.read(block * BLOCK_BYTES, min(BLOCK_BYTES, self.reader.size - block * BLOCK_BYTES))
            self.arena[slot * BLOCK_BYTES : slot * BLOCK_BYTES + len(data)] = np.frombuffer(data, np.uint8)
            self.block_in[slot], self.slot_of[block] = block, slot
            keep[slot] = True
            self.next_victim = (slot + 1) % self.capacity  # round robin: the empty slots first, then the oldest

    def _copy(self, starts, lengths, first, last, total: int) -> np.ndarray:
        """Gather the bytes from the arena: ranges inside one block by indexing, ranges across blocks piece by piece."""
        used = lengths > 0
        at = np.where(used, self.slot_of[first] * BLOCK_BYTES + (starts - first * BLOCK_BYTES), 0)  # arena position of each start
        inside = (first == last) | ~used
        if (lengths == lengths[0]).all():  # fixed-size rows: a windowed gather, no index per byte
            length = int(lengths[0])
            out = np.empty((len(starts), length), np.uint8)
            out[inside] = self._rows(at[inside], length)
            for k in np.flatnonzero(~inside).tolist():
                self._across(int(starts[k]), out[k])
            return out.reshape(-1)
        out = np.empty(total, np.uint8)
        out_at = np.cumsum(lengths) - lengths
        i = np.flatnonzero(inside & used)
        if len(i):
            n = lengths[i]
            within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            out[np.repeat(out_at[i], n) + within] = self.arena[np.repeat(at[i], n) + within]
        for k in np.flatnonzero(~inside).tolist():
            self._across(int(starts[k]), out[int(out_at[k]) : int(out_at[k] + lengths[k])])
        return out

    def _rows(self, at: np.ndarray, length: int) -> np.ndarray:
        """The `length` bytes at each arena position, as rows; copied in words where every row is aligned to one."""
        word = _word(length, at)
        arena = self.arena.view(word)
        at, width = at // word.itemsize, length // word.itemsize
        phase = int(at[0] % width) if len(at) else 0
        if len(at) and (at % width == phase).all():  # rows on one grid (power-of-two rows): a 2-D take, 5x faster
            grid = arena[phase : phase + (len(arena) - phase) // width * width].reshape(-1, width)
            return np.take(grid, (at - phase) // width, axis=0).view(np.uint8)
        return np.lib.stride_tricks.sliding_window_view(arena, width)[at].view(np.uint8)

    def _across(self, pos: int, out: np.ndarray) -> None:
        """A range across a block boundary (rare: about one row in BLOCK_BYTES / row size): one piece per block."""
        end, dst = pos + len(out), 0
        while pos < end:
            block = pos // BLOCK_BYTES
            take = min(end, (block + 1) * BLOCK_BYTES) - pos
            src = int(self.slot_of[block]) * BLOCK_BYTES + pos - block * BLOCK_BYTES
            out[dst : dst + take] = self.arena[src : src + take]
            pos, dst = pos + take, dst + take


def _word(length: int, positions: np.ndarray) -> np.dtype:
    """The widest unsigned integer that divides the row length and every row's position."""
    common = length | (int(np.bitwise_or.reduce(positions)) if len(positions) else 0)
    for word in (np.uint64, np.uint32, np.uint16):
        if common % np.dtype(word).itemsize == 0:
            return np.dtype(word)
    return np.dtype(np.uint8)
