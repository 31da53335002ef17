"""`manifest.json`: what an artifact holds, written last, read first."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ArtifactError

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
_HASH_BLOCK = 8 << 20


@dataclass
class FileEntry:
    path: str  # relative, POSIX separators
    bytes: int
    sha256: str


@dataclass
class Manifest:
    format: str
    format_version: int
    library_version: str
    created: str
    element_spec: dict
    num_elements: int
    fingerprint: str
    options: dict = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)
    total_bytes: int = 0
    details: dict = field(default_factory=dict)  # format specific: stream files, parse spec ...
    write_seconds: float = 0.0
    schema_version: int = SCHEMA_VERSION

    @property
    def spec(self):
        from .spec import spec_from_json

        return spec_from_json(self.element_spec)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, doc: dict) -> "Manifest":
        doc = dict(doc)
        doc["files"] = [FileEntry(**f) for f in doc.get("files", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in known})

    def write(self, directory: Path) -> None:
        path = Path(directory) / MANIFEST_NAME
        with open(path, "w") as f:
            f.write(self.to_json())
            f.flush()
            os.fsync(f.fileno())


def read_manifest(directory: str | os.PathLike) -> Manifest:
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise ArtifactError(f"{directory} is not an artifact: no such directory. Save one with dataset_assets.save().")
    if not path.is_file():
        raise ArtifactError(
            f"{path} is missing: {directory} is not a complete artifact (was it written by dataset_assets.save?)"
        )
    try:
        doc = json.loads(path.read_text())
        manifest = Manifest.from_dict(doc)
    except (ValueError, TypeError, KeyError) as e:
        raise ArtifactError(f"{path} is not a readable manifest ({e}); re-create the artifact with save()") from e
    for entry in manifest.files:
        _check_member(directory, entry.path)
    return manifest


def safe_member(root: Path, relative: str) -> Path:
    """Resolve a path named inside an artifact, refusing anything that leaves the artifact."""
    return Path(root, _check_member(root, relative))


def _check_member(root, relative: str) -> str:
    # plain string checks, no Path objects: this runs for every file on every load (10k images -> 10k calls)
    parts = relative.split("/")
    if not relative or relative.startswith("/") or "\\" in relative or ".." in parts or "" in parts:
        raise ArtifactError(f"{root}: manifest names {relative!r}, which points outside the artifact; refusing it")
    return relative


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_BLOCK):
            h.update(chunk)
    return h.hexdigest()


def list_files(directory: Path, known: dict[str, str] | None = None) -> list[FileEntry]:
    """Every data file below `directory` with size and checksum (reusing digests already computed)."""
    known = known or {}
    entries = []
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            rel = path.relative_to(directory).as_posix()
            entries.append(FileEntry(rel, path.stat().st_size, known.get(rel) or file_sha256(path)))
    return entries


def check_files(directory: Path, manifest: Manifest, checksums: bool) -> list[str]:
    """Problems found with the files a manifest lists: missing, wrong size, and (optionally) wrong checksum."""
    problems = []
    root = os.fspath(directory)
    for entry in manifest.files:
        path = os.path.join(root, _check_member(directory, entry.path))
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            problems.append(f"{path}: file is missing (the manifest lists it)")
            continue
        size = st.st_size
        if size != entry.bytes:
            problems.append(f"{path}: size is {size} bytes, the manifest says {entry.bytes} (truncated or replaced)")
        elif checksums and file_sha256(path) != entry.sha256:
            problems.append(f"{path}: checksum does not match the manifest (the file is corrupt or was changed)")
    return problems


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
