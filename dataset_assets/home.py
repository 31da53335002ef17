"""Where artifacts live by name, and the stamps that say which version of each passed its round-trip check.

Layout of the home folder (`DATASET_ASSETS_HOME`, default `~/.dataset_assets`), or of any `base_dir`
(a local folder or a URL such as `s3://bucket/prefix`):

    artifacts/<asset>/                 a versioned artifact written by dataset_assets.save
    artifacts/<asset>.verified.json    stamp written by the passing round-trip check: which version passed
    artifacts/<asset>/<partition>/     a partitioned asset: one versioned artifact (and stamp) per partition
    artifacts/<prefix>/<asset>/        an asset key with a prefix, e.g. ["team", "events"]
    dagster/                           the local Dagster instance of `dataset-assets materialize`

The stamp sits beside the artifact, not inside it, so writing it never changes the artifact; it
names the version that passed and its manifest's digest, so `load_asset` (in `catalog`) reads
exactly that version even after a newer one has been committed and not yet checked.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from pathlib import Path

from .errors import ArtifactError
from .storage import ArtifactStore, Location

log = logging.getLogger("dataset_assets")
HOME_ENV = "DATASET_ASSETS_HOME"
DEFAULT_HOME = "~/.dataset_assets"
STAMP_SUFFIX = ".verified.json"


def home() -> Path:
    """The home folder: `$DATASET_ASSETS_HOME`, else `~/.dataset_assets` (never the current directory)."""
    value = os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(value).expanduser().absolute()


def artifacts_dir() -> Path:
    return home() / "artifacts"


def key_parts(name) -> tuple[str, ...]:
    """The path parts of an asset key: "numeric_tfrecord", "team/events", ["team", "events"] or a Dagster AssetKey."""
    parts = getattr(name, "path", name)
    parts = tuple(parts.split("/")) if isinstance(parts, str) else tuple(parts) if isinstance(parts, (list, tuple)) else ()
    if not parts or any(not isinstance(p, str) or p in ("", "..") or "\\" in p or "/" in p or p.startswith(".") for p in parts):
        raise ArtifactError(f"{name!r} is not an asset name; use a name such as 'numeric_tfrecord', or 'team/events' for a key with a prefix")
    return parts


def artifact_path(name, base_dir=None):
    """The artifact of asset `name` (e.g. "numeric_tfrecord", or "team/events" for the key ["team", "events"]) under `base_dir`.

    `base_dir` defaults to `<home>/artifacts`. A local `Path`, or a `UPath` where `base_dir` is a URL.
    """
    return artifact_base(base_dir).joinpath(*key_parts(name))


def artifact_base(base_dir=None, storage_options: dict | None = None):
    """`base_dir` as a local `Path`, or as a `UPath` (carrying `storage_options`) where it is a URL; default `<home>/artifacts`."""
    if not base_dir:
        return artifacts_dir()
    if hasattr(base_dir, "protocol") and getattr(base_dir, "protocol", "") not in ("", "file", "local"):
        return base_dir
    text = os.fspath(base_dir)
    if "://" in text and not text.startswith("file://"):
        from upath import UPath

        return UPath(text, **(storage_options or {}))
    return Path(Location.of(text).path)


def stamp_path(artifact):
    return artifact.parent / f"{artifact.name}{STAMP_SUFFIX}"


def write_stamp(artifact, checked_by: str = "round_trip", version: str | None = None, storage_options=None):
    """Record that the artifact's current version (or `version`) passed `checked_by`."""
    info = ArtifactStore(Location.of(artifact, storage_options)).info(version)
    doc = {
        "artifact": artifact.name, "version": info.id, "manifest_sha256": info.manifest_sha256, "format": info.format,
        "fingerprint": info.fingerprint, "num_elements": info.num_elements,
        "checked_by": checked_by, "verified_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    target = stamp_path(artifact)
    Location.of(target, storage_options).write_bytes(json.dumps(doc, indent=2).encode())  # atomic: rename / one PUT
    return target


def remove_stamp(artifact, storage_options=None) -> None:
    Location.of(stamp_path(artifact), storage_options).remove()


def read_stamp(artifact, storage_options=None) -> dict | None:
    data = Location.of(stamp_path(artifact), storage_options).read_bytes()
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None  # a torn or edited stamp proves nothing
    return doc if isinstance(doc, dict) else None


def check_verified(artifact, storage_options=None) -> tuple[str, str]:
    """(version id, manifest digest) of the version of `artifact` its stamp verified; raises ArtifactError otherwise."""
    stamp = read_stamp(artifact, storage_options)
    if stamp is None or not isinstance(stamp.get("version"), str):
        raise ArtifactError(
            f"{artifact} has no verification stamp ({stamp_path(artifact).name}): its round-trip check has not passed "
            "since it was written, or its integrity check failed. Run `dataset-assets materialize` (or the asset's "
            "checks in Dagster), or pass verified=False to load it unchecked."
        )
    store = ArtifactStore(Location.of(artifact, storage_options))
    versions = store.versions()
    info = next((v for v in versions if v.id == stamp["version"]), None)
    if info is None or info.manifest_sha256 != stamp.get("manifest_sha256"):
        raise ArtifactError(
            f"{artifact} was rewritten after its last passing round-trip check (verified version {stamp['version']}, fingerprint "
            f"{stamp.get('fingerprint')}, is no longer retained); run its checks again (`dataset-assets materialize`) or pass verified=False."
        )
    current = next((v for v in versions if v.current), None)
    if current is not None and current.id != info.id:
        log.warning("%s: version %s is not verified yet; loading %s, the latest version that passed its round-trip check", artifact, current.id, info.id)
    return info.id, info.manifest_sha256
