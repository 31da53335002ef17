"""Remote versions read through a local cache: fetched in parallel, checked as they arrive, bounded in size.

    <cache>/blobs/<sha256[:2]>/<sha256>    one file's bytes, named by its content checksum
    <cache>/views/<key>/                   one remote version as a folder: hard links to its blobs

Blobs are keyed by content, so loading an unchanged version again (or a new version that
shares files with an old one) downloads nothing; every blob is checked against the manifest's
block checksums before use, and a damaged one is fetched again. The formats read the view like
any local version. When the blobs pass `DATASET_ASSETS_CACHE_BYTES`, the least recently used
views go first, then the blobs no view links to (a blob's link count says that).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import google_crc32c

from ..errors import ArtifactError
from .checksums import BLOCK_BYTES, unpack_crcs
from .location import Location

log = logging.getLogger("dataset_assets")
CACHE_ENV, BYTES_ENV = "DATASET_ASSETS_CACHE", "DATASET_ASSETS_CACHE_BYTES"
DEFAULT_BYTES = 20 * 10**9
FETCH_BATCH = 16  # files in flight at once
_COMPLETE = ".complete"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/dataset_assets").expanduser().absolute()


def cache_bytes() -> int:
    value = os.environ.get(BYTES_ENV)
    try:
        return int(float(value)) if value else DEFAULT_BYTES
    except ValueError:
        raise ArtifactError(f"{BYTES_ENV}={value!r} is not a number of bytes") from None


def fetch_version(location: Location, key: str, files: list, manifest_bytes: bytes) -> Path:
    """A local folder holding the files of the remote version at `location` (FileEntry-like: path, bytes, sha256, crc32c)."""
    root = cache_root()
    view = root / "views" / hashlib.sha256(f"{location.url}\n{key}".encode()).hexdigest()[:32]
    total = sum(f.bytes for f in files)
    bound = cache_bytes()
    if total > bound:
        raise ArtifactError(
            f"{location}: the version holds {total / 1e9:.2f} GB, more than the cache bound of {bound / 1e9:.2f} GB "
            f"({BYTES_ENV}); raise the bound or point {CACHE_ENV} at a larger disk"
        )
    blobs = {f.sha256: _blob_path(root, f.sha256) for f in files}
    missing = [f for f in {f.sha256: f for f in files}.values() if not _blob_ok(blobs[f.sha256], f)]
    if missing:
        _download(location, root, missing, blobs)
    if not (view / _COMPLETE).is_file() or not _view_ok(view, files, blobs):
        _build_view(view, files, blobs, manifest_bytes)
    os.utime(view / _COMPLETE)  # most recently used
    trim(bound, keep=view)
    return view


def _blob_path(root: Path, sha: str) -> Path:
    if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        raise ArtifactError(f"the manifest names a file checksum {sha!r}, which is not a SHA-256; the artifact is damaged")
    return root / "blobs" / sha[:2] / sha


def _blob_ok(blob: Path, entry) -> bool:
    """The cached bytes match the manifest (size and every block's CRC-32C); a damaged blob is removed."""
    try:
        if blob.stat().st_size != entry.bytes:
            raise ValueError
        if not _crcs_match(blob, entry):
            raise ValueError
        return True
    except FileNotFoundError:
        return False
    except ValueError:
        log.warning("%s: cached copy is damaged; fetching it again", blob)
        blob.unlink(missing_ok=True)
        return False


def _crcs_match(path: Path, entry) -> bool:
    if not entry.crc32c:  # manifests of the older layout carry SHA-256 only
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(8 * BLOCK_BYTES):
                h.update(block)
        return h.hexdigest() == entry.sha256
    crcs = unpack_crcs(entry.crc32c, str(path))
    with open(path, "rb") as f:
        for expected in crcs:
            if google_crc32c.value(f.read(BLOCK_BYTES)) != int(expected):
                return False
        return not f.read(1)


def _download(location: Location, root: Path, files: list, blobs: dict) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fetch-", dir=_mkdir(root / "tmp")))
    try:
        rpaths = [location.child(*f.path.split("/")).path for f in files]
        lpaths = [str(tmp / f"{i:06d}") for i in range(len(files))]
        started = time.perf_counter()
        if getattr(location.fs, "async_impl", False):
            location.fs.get(rpaths, lpaths, batch_size=FETCH_BATCH)
        else:
            for rp, lp in zip(rpaths, lpaths):
                location.fs.get_file(rp, lp)
        for f, lp in zip(files, lpaths):
            if os.path.getsize(lp) != f.bytes or not _crcs_match(Path(lp), f):
                raise ArtifactError(f"{location.child(f.path)}: the downloaded bytes do not match the manifest's checksums; the remote file is damaged")
            blob = blobs[f.sha256]
            _mkdir(blob.parent)
            os.replace(lp, blob)
        log.info("%s: fetched %d file(s), %.1f MB in %.1f s", location, len(files), sum(f.bytes for f in files) / 1e6, time.perf_counter() - started)
    except FileNotFoundError as e:
        raise ArtifactError(f"{location}: a file of the version is missing on the store ({e}); the version is damaged or was removed") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _view_ok(view: Path, files: list, blobs: dict) -> bool:
    for f in files:
        try:
            if not os.path.samefile(view / f.path, blobs[f.sha256]):
                return False
        except OSError:
            return False
    return True


def _build_view(view: Path, files: list, blobs: dict, manifest_bytes: bytes) -> None:
    """Hard links to the blobs under the version's relative names, built aside and renamed into place."""
    tmp = Path(tempfile.mkdtemp(prefix=".view-", dir=_mkdir(view.parent)))
    for f in files:
        target = tmp / f.path
        _mkdir(target.parent)
        os.link(blobs[f.sha256], target)
    (tmp / "manifest.json").write_bytes(manifest_bytes)
    (tmp / _COMPLETE).touch()
    old = view.with_name(f".old-{view.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(view, old)
    except FileNotFoundError:
        old = None
    os.rename(tmp, view)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def trim(bound: int, keep: Path | None = None) -> None:
    """Evict least recently used views, then unlinked blobs, until the blobs fit in `bound` bytes."""
    root = cache_root()
    blobs = [p for p in (root / "blobs").glob("*/*") if p.is_file()]
    used = sum(p.stat().st_size for p in blobs)
    if used <= bound:
        return
    views = sorted((p for p in (root / "views").iterdir() if p.is_dir() and p != keep and not p.name.startswith(".")), key=_last_used)
    for view in [None] + views:
        if view is not None:
            shutil.rmtree(view, ignore_errors=True)
        for blob in sorted(blobs, key=lambda p: p.stat().st_mtime if p.exists() else 0):
            if blob.exists() and blob.stat().st_nlink == 1:
                used -= blob.stat().st_size
                blob.unlink()
        blobs = [p for p in blobs if p.exists()]
        if used <= bound:
            return


def _last_used(view: Path) -> float:
    try:
        return (view / _COMPLETE).stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
