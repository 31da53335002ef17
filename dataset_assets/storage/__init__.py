"""The storage layer: where artifacts live, their versions, the commit record, the remote cache.

Formats write and read local files only; this layer decides where those files are and
moves them: `Location` (a local folder or any fsspec URL), `ArtifactStore` (versions,
commit, retention, dead writers), `checksums` (what every read is checked against) and
`cache` (remote versions fetched into a bounded local cache).
"""

from .checksums import BLOCK_BYTES, CheckedFile, Digest, digest_bytes, digest_file
from .location import Location
from .versions import LEGACY, ArtifactStore, PendingVersion, Resolved, VersionInfo

__all__ = [
    "BLOCK_BYTES",
    "LEGACY",
    "ArtifactStore",
    "CheckedFile",
    "Digest",
    "Location",
    "PendingVersion",
    "Resolved",
    "VersionInfo",
    "digest_bytes",
    "digest_file",
]
