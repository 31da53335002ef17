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
import inspect
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import google_crc32c

from ..errors import ArtifactError
from .checksums import BLOCK_BYTES, unpack_crcs
from .location import Location

log = logging.getLogger("dataset_assets")
CACHE_ENV, BYTES_ENV = "DATASET_ASSETS_CACHE", "DATASET_ASSETS_CACHE_BYTES"
DEFAULT_BYTES = 20 * 10**9
FETCH_PARALLEL = 8  # files in flight at once
# s3fs splits a file larger than its chunk into ranged GETs, each held in memory whole (50 MiB x 10 per
# file by default: over 1 GB with 8 files in flight). One streamed GET per file keeps a fetch's buffers
# small; the parallelism comes from the files.
STREAMED_GET = {"max_concurrency": 1}
_COMPLETE = ".complete"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/dataset_assets").expanduser().absolute()


def cache_bytes() -> int:
    value = os.environ.get(BYTES_ENV)
    try:
        return int(float(value)) if value else DEFAULT_BYTES
    except ValueError:
        raise ArtifactError(f"{BYTES_ENV}={value!r} is not a number of bytes") from None


def fetch_version(location: Location, key: str, files: list, manifest_bytes: bytes, first=()) -> "Arrival":
    """Start making the remote version at `location` local (FileEntry-like files: path, bytes, sha256, crc32c).

    Returns at once with an `Arrival`: its `directory` is the version's folder in the cache, whose
    files appear one by one, each only once its bytes are checked; `wait(path)` blocks for one,
    `wait_all()` for all. Files already cached (by content) are there from the start; the others come
    in manifest order, those named in `first` (the files a format reads before any data) before them.
    """
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
    if (view / _COMPLETE).is_file() and _view_ok(view, files, blobs) and all(_blob_ok(blobs[f.sha256], f) for f in _unique(files)):
        os.utime(view / _COMPLETE)  # most recently used
        return Arrival(view, {})
    # built in place: a concurrent loader of the same version links the same blobs under the same names
    (view / _COMPLETE).unlink(missing_ok=True)
    _mkdir(view)
    _write_atomic(view / "manifest.json", manifest_bytes)
    missing = [f for f in _unique(files) if not _blob_ok(blobs[f.sha256], f)]
    missing.sort(key=lambda f: f.path not in first)  # stable: manifest order otherwise
    absent = {f.sha256 for f in missing}
    for f in files:
        if f.sha256 not in absent:
            _link(blobs[f.sha256], view / f.path)
    arrival = Arrival(view, {f.path: None for f in files if f.sha256 in absent})
    if missing:
        threading.Thread(target=_download, args=(location, root, missing, files, blobs, arrival, bound), daemon=True,
                         name="dataset_assets-fetch").start()
    else:
        arrival.finish(bound)
    return arrival


class Arrival:
    """The files of one version arriving in the cache: who waits for what, and the error that stopped it."""

    def __init__(self, directory: Path, pending: dict):
        self.directory = directory
        self._pending = set(pending)
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    def done(self) -> bool:
        with self._changed:
            return not self._pending or self._error is not None

    def wait(self, path: str) -> None:
        """Block until the version's file `path` (relative to the version) is in `directory`, checked."""
        with self._changed:
            self._changed.wait_for(lambda: path not in self._pending or self._error is not None)
            if path in self._pending:
                raise self._error

    def wait_all(self) -> Path:
        with self._changed:
            self._changed.wait_for(lambda: not self._pending or self._error is not None)
            if self._pending:
                raise self._error
        return self.directory

    def arrived(self, paths: list) -> None:
        with self._changed:
            self._pending.difference_update(paths)
            self._changed.notify_all()

    def failed(self, error: BaseException) -> None:
        with self._changed:
            self._error = error
            self._changed.notify_all()

    def finish(self, bound: int) -> None:
        (self.directory / _COMPLETE).touch()
        trim(bound, keep=self.directory)


def _unique(files: list) -> list:
    return list({f.sha256: f for f in files}.values())


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


def _download(location: Location, root: Path, missing: list, files: list, blobs: dict, arrival: Arrival, bound: int) -> None:
    """Fetch `missing` in manifest order, FETCH_PARALLEL at once; each file is checked, stored and linked as it lands."""
    tmp = Path(tempfile.mkdtemp(prefix="fetch-", dir=_mkdir(root / "tmp")))
    names = {}
    for f in files:
        names.setdefault(f.sha256, []).append(f.path)
    started = time.perf_counter()
    get_options = _streamed_get_options(location.fs)

    def fetch_one(i: int, entry) -> None:
        local = tmp / f"{i:06d}"
        location.fs.get_file(location.child(*entry.path.split("/")).path, str(local), **get_options)
        if os.path.getsize(local) != entry.bytes or not _crcs_match(local, entry):
            raise ArtifactError(f"{location.child(entry.path)}: the downloaded bytes do not match the manifest's checksums; the remote file is damaged")
        blob = blobs[entry.sha256]
        _mkdir(blob.parent)
        os.replace(local, blob)
        for name in names[entry.sha256]:
            _link(blob, arrival.directory / name)
        arrival.arrived(names[entry.sha256])

    try:
        with ThreadPoolExecutor(FETCH_PARALLEL, thread_name_prefix="dataset_assets-get") as pool:
            for done in [pool.submit(fetch_one, i, f) for i, f in enumerate(missing)]:
                done.result()
        log.info("%s: fetched %d file(s), %.1f MB in %.1f s", location, len(missing), sum(f.bytes for f in missing) / 1e6, time.perf_counter() - started)
        arrival.finish(bound)
    except FileNotFoundError as e:
        arrival.failed(ArtifactError(f"{location}: a file of the version is missing on the store ({e}); the version is damaged or was removed"))
    except BaseException as e:  # noqa: BLE001 -- handed to whoever waits for the files
        arrival.failed(e if isinstance(e, ArtifactError) else ArtifactError(f"{location}: fetching the version failed: {type(e).__name__}: {e}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _streamed_get_options(fs) -> dict:
    """STREAMED_GET for filesystems whose get_file takes those options (s3fs), nothing for the others."""
    try:
        accepted = inspect.signature(getattr(fs, "_get_file", fs.get_file)).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in STREAMED_GET.items() if k in accepted}


def _link(blob: Path, target: Path) -> None:
    """`target` becomes a hard link to `blob`, replacing whatever was there (a stale link to a damaged copy)."""
    _mkdir(target.parent)
    if target.exists() and os.path.samefile(blob, target):
        return
    aside = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    os.link(blob, aside)
    os.replace(aside, target)


def _write_atomic(path: Path, data: bytes) -> None:
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    aside.write_bytes(data)
    os.replace(aside, path)


def _view_ok(view: Path, files: list, blobs: dict) -> bool:
    for f in files:
        try:
            if not os.path.samefile(view / f.path, blobs[f.sha256]):
                return False
        except OSError:
            return False
    return True


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
    """When the view was last loaded, or (while its files are still arriving) last added to."""
    try:
        return max(view.stat().st_mtime, (view / _COMPLETE).stat().st_mtime)
    except FileNotFoundError:
        return view.stat().st_mtime if view.exists() else 0.0


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
