"""tfrecord sharding: which file each block of records goes to, and the files themselves.

Block `b` goes to file `b % num_shards` (or, with `shard_bytes`, blocks fill one file after
another), so `interleave(cycle_length, block_length)` over the files restores the saved order
exactly. Each `_File` compresses (GZIP/ZLIB) and hashes its bytes on the way out (SHA-256 and
block CRC-32Cs, `storage.checksums`); the files
get their final `data-00000-of-00004` names on close, when the count is known.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...storage.checksums import Digest
from .._recordio import RecordFile
from . import framing

_EXTENSIONS = {None: ".tfrecord", "GZIP": ".tfrecord.gz", "ZLIB": ".tfrecord.zlib"}


class Shards:
    """Blocks round-robin over `num_shards` files, or filling files of ~`shard_bytes` one after another."""

    def __init__(self, directory: Path, options: dict):
        self.directory, self.options = directory, options
        self.ext = _EXTENSIONS[options["compression"]]
        self.files: list[RecordFile] = []
        self.blocks = 0
        for _ in range(options["num_shards"] or 0):
            self._open()

    def _open(self) -> RecordFile:
        f = RecordFile(self.directory / f".part-{len(self.files):05d}", self.options["compression"])
        self.files.append(f)
        return f

    def write(self, data: bytes, lengths: np.ndarray) -> None:
        """One block of framed records (`lengths`: each record's data length, for the record index)."""
        if self.options["num_shards"]:
            f = self.files[self.blocks % len(self.files)]
        else:
            f = self.files[-1] if self.files and self.files[-1].bytes < self.options["shard_bytes"] else self._open()
        f.write(data, lengths)
        self.blocks += 1

    def close(self) -> tuple[list[str], dict[str, Digest], list[int], dict]:
        """Name the files, write the record index; returns (file names, digests including the index's, records per file,
        the details that locate the index's groups)."""
        if not self.files:
            self._open()
        names, digests, counts = [], {}, []
        for i, f in enumerate(self.files):
            f.close()
            name = f"data-{i:05d}-of-{len(self.files):05d}{self.ext}"
            os.replace(f.path, self.directory / name)  # the count is only known now
            names.append(name)
            digests[name] = f.digest
            counts.append(f.records)
        digests[framing.INDEX], located = framing.write_index(self.directory, [x for f in self.files for x in f.lengths])
        return names, digests, counts, located

