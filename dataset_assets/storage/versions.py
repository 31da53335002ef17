"""Immutable versions of an artifact, one commit record, retention and the clean-up of dead writers.

    <artifact>/current.json               the commit record: the current version + the retained ones
    <artifact>/versions/<id>/             one version: manifest.json + its data files, never modified
    <artifact>/writers/<id>.json          the lease of a save in progress, refreshed while it writes

A save writes its version in full (locally in place; for a remote store in local staging,
then uploaded, data files first and the manifest last), then commits it by replacing the
record (`storage.commit`). Readers resolve the record once and read one version's files,
so nothing a later save does changes what they yield, for as long as their version is
retained (`keep`). A version that is in no record is either being written (its lease is
fresh) or was left by a writer that died: after `writer_timeout()` seconds without a
heartbeat a later save removes it. No process ids: they mean nothing across machines.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArtifactError, ArtifactExistsError
from .commit import RECORD, read_record, update_record
from .location import Location

log = logging.getLogger("dataset_assets")
VERSIONS, WRITERS, MANIFEST = "versions", "writers", "manifest.json"
LEGACY = "legacy"  # the version id of an artifact written before versions existed
TIMEOUT_ENV = "DATASET_ASSETS_WRITER_TIMEOUT"
DEFAULT_TIMEOUT = 900.0
RECORD_SCHEMA = 1


def writer_timeout() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):  # nan would make every writer look dead
        raise ArtifactError(f"{TIMEOUT_ENV}={value!r} is not a number of seconds")
    return max(seconds, 0.5)


@dataclass(frozen=True)
class VersionInfo:
    """One committed version, as `dataset_assets.versions` lists it."""

    id: str
    created: str
    fingerprint: str
    num_elements: int
    bytes: int
    format: str
    current: bool = False
    manifest_sha256: str = ""


@dataclass(frozen=True)
class Resolved:
    """The version a reader is pinned to: its id, where its files are, and the digest of its manifest."""

    id: str
    location: Location
    manifest_sha256: str | None  # None for a legacy artifact


def new_version_id() -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


class ArtifactStore:
    """The versions of the artifact at one location."""

    def __init__(self, root: Location):
        self.root = root

    def record(self) -> dict | None:
        return read_record(self.root)

    def is_legacy(self) -> bool:
        return self.record() is None and self.root.child(MANIFEST).exists()

    def versions(self) -> list[VersionInfo]:
        record = self.record()
        if record is None:
            if self.root.child(MANIFEST).exists():
                return [self._legacy_info()]
            return []
        return [_info(v, v.get("id") == record["current"]) for v in record["versions"]]

    def info(self, version: str | None = None) -> VersionInfo:
        """The `VersionInfo` of the current version, or of `version`, from one read of the commit record."""
        infos = self.versions()
        wanted = next((v.id for v in infos if v.current), None) if version is None else str(version)
        found = next((v for v in infos if v.id == wanted), None)
        if found is None:
            self.resolve(version)  # raises what is wrong: not an artifact, or no such version
            raise ArtifactError(f"{self.root} has no version {wanted!r}")
        return found

    def resolve(self, version: str | None = None) -> Resolved:
        """The current version (read from the record once), or the version `version`."""
        record = self.record()
        if record is None:
            if self.root.child(MANIFEST).exists() and version in (None, LEGACY):
                return Resolved(LEGACY, self.root, None)
            if self.root.child(MANIFEST).exists():
                raise ArtifactError(f"{self.root} has no version {version!r}: it is an artifact of the older layout, one version called {LEGACY!r}")
            raise ArtifactError(
                f"{self.root} is not an artifact: it has no commit record ({RECORD}) and no manifest. Save one with dataset_assets.save()"
            )
        wanted = record["current"] if version is None else str(version)
        entry = next((v for v in record["versions"] if v.get("id") == wanted), None)
        if entry is None:
            ids = [v.get("id") for v in record["versions"]]
            raise ArtifactError(f"{self.root} has no version {wanted!r}; its versions are {', '.join(map(str, ids))}")
        check_id(self.root, wanted)
        return Resolved(wanted, self.root.child(VERSIONS, wanted), entry.get("manifest_sha256"))

    def _legacy_info(self) -> VersionInfo:
        data = self.root.child(MANIFEST).read_bytes() or b"{}"
        try:
            m = json.loads(data)
            return VersionInfo(LEGACY, str(m["created"]), str(m["fingerprint"]), int(m["num_elements"]), int(m.get("total_bytes", 0)), str(m["format"]), True, _sha(data))
        except (ValueError, TypeError, KeyError) as e:
            raise ArtifactError(f"{self.root.child(MANIFEST)} is not a readable manifest ({e}); re-create the artifact with save()") from e

    # --- writing -------------------------------------------------------------------------------

    def begin(self, overwrite: bool) -> "PendingVersion":
        self.check_writable(overwrite)
        self.remove_abandoned()
        return PendingVersion(self, new_version_id())

    def check_writable(self, overwrite: bool) -> None:
        """Refuse a new version of an artifact of the older layout, or of an existing one without `overwrite`."""
        if self.is_legacy():
            raise ArtifactError(
                f"{self.root} holds an artifact of the older single-folder layout, which is read-only. Convert it into a "
                f"versioned artifact at a new path with dataset_assets.save(dataset_assets.load(old), new), then move it into place"
            )
        if self.record() is not None and not overwrite:
            raise ArtifactExistsError(
                f"{self.root} already exists; pass overwrite=True to commit a new version (the current one stays loadable by its id until retention removes it)"
            )

    def remove_abandoned(self) -> list[str]:
        """Delete versions that no record names and whose writers all stopped sending heartbeats. Returns their ids."""
        versions_dir, writers_dir = self.root.child(VERSIONS), self.root.child(WRITERS)
        folders = versions_dir.list_names()  # list first, read the record last: a writer leases before it
        leases = set(writers_dir.list_names())  # writes and commits before it drops its lease, so anything
        record = self.record()  # committed since the listing is in the record read now
        committed = {v.get("id") for v in record["versions"]} if record else set()
        now, timeout, removed = time.time(), writer_timeout(), []
        # a lease names its version in "id": one per save, one per part writer, one per open write of parts
        docs = {name: lease_doc(writers_dir.child(name)) for name in leases}
        alive = {d.get("id") for d in docs.values() if now - beat_of(d) < timeout}
        for vid in folders:
            if vid in committed or vid in alive:
                continue
            versions_dir.child(vid).remove()
            removed.append(vid)
        for name, doc in docs.items():  # leases of dead writers (also those that died before writing a file),
            if now - beat_of(doc) >= timeout and doc.get("id") not in alive:  # unless another writer of the version lives
                writers_dir.child(name).remove()
        if removed:
            log.info("%s: removed %d version(s) of writers that died before committing: %s", self.root, len(removed), ", ".join(removed))
        return removed

    def retain(self, keep: int) -> list[str]:
        """Drop all but the newest `keep` committed versions (and always the current one) from the record, then delete them."""
        dropped: list[str] = []

        def build(record):
            kept = record["versions"][-keep:]
            if not any(v.get("id") == record["current"] for v in kept):
                kept = [v for v in record["versions"] if v.get("id") == record["current"]] + kept[1:]
            dropped[:] = [v["id"] for v in record["versions"] if v not in kept]
            return {**record, "versions": kept}

        if len(self.record()["versions"]) > keep:
            update_record(self.root, build)
        for vid in dropped:
            check_id(self.root, vid)
            self.root.child(VERSIONS, vid).remove()
        return dropped


class Lease:
    """`writers/<name>.json`, naming version `vid` and refreshed by a thread until `release`: the version is being written."""

    def __init__(self, root: Location, vid: str, name: str | None = None):
        self.id = vid
        self.location = root.child(WRITERS, f"{name or vid}.json")
        self._write()  # before any file of the version exists (see remove_abandoned)
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"dataset_assets lease {vid}", daemon=True)
        self._beat.start()

    def _write(self) -> None:
        doc = {"id": self.id, "heartbeat": time.time(), "host": socket.gethostname(), "pid": os.getpid()}
        self.location.write_bytes(json.dumps(doc).encode())

    def _heartbeat(self) -> None:
        every = min(max(writer_timeout() / 5, 0.1), 30.0)
        while not self._stop.wait(every):
            try:
                self._write()
            except Exception as e:  # a missed beat only risks the version being seen as abandoned late
                log.warning("%s: could not refresh the writer's lease: %s", self.location, e)

    def release(self) -> None:
        self._stop.set()
        self._beat.join()
        self.location.remove()


class PendingVersion:
    """A version being written: a local folder to fill, a lease kept fresh, then `commit` or `abort`."""

    def __init__(self, store: ArtifactStore, vid: str):
        self.store, self.id = store, vid
        root = store.root
        self.remote = root.child(VERSIONS, vid)
        began = store.record()
        self._began_on = began.get("current") if began else None
        self._lease = Lease(root, vid)
        if root.is_local:
            self.directory = Path(self.remote.path)
            self.directory.mkdir(parents=True)
            self._staging = None
        else:
            self._staging = new_staging(vid)
            self.directory = self._staging

    committed = False

    def commit(self, info: VersionInfo, manifest_sha256: str, keep: int) -> None:
        """Make the version durable (or upload it), then make it current in one atomic step."""
        from .staging import fsync_tree, upload_tree

        if self._staging is None:
            fsync_tree(self.directory)
        else:
            upload_tree(self.directory, self.remote, last=MANIFEST)
        commit_version(self.store, info, manifest_sha256, self._began_on)
        self.committed = True
        self._finish()
        self.store.retain(keep)

    def abort(self) -> None:
        """Remove everything this save wrote; the committed versions are untouched."""
        if self.committed:
            return
        self._finish()
        self.remote.remove()

    def _finish(self) -> None:
        self._lease.release()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None


def new_staging(vid: str) -> Path:
    """A fresh local folder in which a version (or part) for a remote store is built before it is uploaded."""
    from .cache import cache_root

    base = cache_root() / "staging"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{vid}-", dir=base))


def commit_version(store: ArtifactStore, info: VersionInfo, manifest_sha256: str, began_on: str | None) -> None:
    """Make the written version `info.id` current in the commit record, in one atomic step (`update_record`)."""
    entry = {k: getattr(info, k) for k in ("id", "created", "fingerprint", "num_elements", "bytes", "format")}
    entry["manifest_sha256"] = manifest_sha256

    def build(record):
        record = record or {"schema": RECORD_SCHEMA, "seq": 0, "versions": []}
        if record.get("current") != began_on:
            log.warning(
                "%s: version %s was committed by another writer while this save ran; both are kept and %s becomes current",
                store.root, record.get("current"), info.id,
            )
        versions = [v for v in record["versions"] if v.get("id") != info.id] + [entry]
        return {
            "schema": RECORD_SCHEMA,
            "seq": int(record.get("seq", 0)) + 1,
            "current": info.id,
            "previous": record.get("current"),
            "committed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds"),
            "versions": versions,
        }

    update_record(store.root, build)


def _info(entry: dict, current: bool) -> VersionInfo:
    fields = VersionInfo.__dataclass_fields__
    return VersionInfo(**{k: entry[k] for k in fields if k in entry and k != "current"}, current=current)


def lease_fresh(root: Location, name: str) -> bool:
    """Whether the lease `writers/<name>.json` exists and beat within the writer timeout."""
    return time.time() - beat_of(lease_doc(root.child(WRITERS, f"{name}.json"))) < writer_timeout()


def lease_doc(lease: Location) -> dict:
    try:
        doc = json.loads(lease.read_bytes() or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def beat_of(doc: dict) -> float:
    try:
        return float(doc.get("heartbeat", 0))
    except (ValueError, TypeError):
        return 0.0


def check_id(root: Location, vid: str) -> None:
    if not vid or "/" in vid or "\\" in vid or vid in (".", "..") or vid.startswith("."):
        raise ArtifactError(f"{root}/{RECORD} names version {vid!r}, which is not a version id; the artifact's history is damaged")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
