"""tfrecord parts (`dataset_assets.parts`): one version made of the shard files of parts written apart, in part order.

Each part fills its files one after another (`shard_bytes`), so the parts' files, listed in
part order, read back in order exactly as a single save's files do (`cycle_length` 1). The
version's record index is the parts' indexes concatenated, written once by the commit; the
parts' own indexes stay listed, so each part remains checkable on its own.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ArtifactError, UnsupportedDatasetError
from ...manifest import Manifest
from ..base import Written
from . import framing
from .options import DEFAULT_SHARD_BYTES


def check_parts(options: dict) -> dict:
    """Parts are written with files filled in sequence: round-robin blocks (`num_shards`) cannot be joined in order."""
    if options["num_shards"] is not None:
        raise UnsupportedDatasetError(
            f"tfrecord parts are written with shard_bytes (files filled one after another), so that the parts read back in order; "
            f"num_shards={options['num_shards']} spreads blocks round-robin. Leave num_shards out (each part gets files of "
            f"{DEFAULT_SHARD_BYTES >> 20} MiB), or give shard_bytes"
        )
    return options


def combine_parts(directory: Path, parts: list[tuple[str, Path, Manifest]]) -> Written:
    """The details of the version made of `parts` ((folder name, where its files are, part manifest), in order); writes its record index."""
    first = parts[0][2].details
    files, counts, lengths = [], [], []
    for name, where, manifest in parts:
        details = manifest.details
        if int(details.get("cycle_length", 0)) != 1 or details.get("compression") != first.get("compression"):
            raise ArtifactError(f"{where}: part {name} was not written as a part (round-robin shards, or another compression); write it again with save_part()")
        files += [f"{name}/{f}" for f in details["files"]]
        counts += [int(c) for c in details.get("records_per_file", [])]
        lengths.append(framing.read_index(where, manifest))
    digest, located = framing.write_index(directory, lengths)
    block = max(int(m.details["block_length"]) for _, _, m in parts)
    details = {**first, "files": files, "records_per_file": counts, "cycle_length": 1, "block_length": block, **located}
    return Written(details=details, digests={framing.INDEX: digest})
