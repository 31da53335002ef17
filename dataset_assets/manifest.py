"""`manifest.json`: what one version of an artifact holds, written last, read first.

It lists every data file with its size, SHA-256 (checked by `verify`) and block CRC-32Cs
(checked on every read, see `storage.checksums`), the element_spec, count and fingerprint.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ArtifactError
from .storage.checksums import BLOCK_BYTES, CheckedFile, Digest, digest_file, unpack_crcs

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 2  # 2: versions, block checksums
MAX_BYTES_ENV = "DATASET_ASSETS_MAX_MANIFEST_BYTES"
DEFAULT_MAX_BYTES = 64 << 20  # ~300,000 listed files; a manifest is parsed whole, at ~5x its size in memory
MAX_NESTING = 64  # element_spec and details: deeper structures are refused, never recursed into


def max_manifest_bytes() -> int:
    """The largest manifest `load` and `verify` read (`DATASET_ASSETS_MAX_MANIFEST_BYTES`, default 64 MiB)."""
    value = os.environ.get(MAX_BYTES_ENV)
    try:
        return int(float(value)) if value else DEFAULT_MAX_BYTES
    except ValueError:
        raise ArtifactError(f"{MAX_BYTES_ENV}={value!r} is not a number of bytes") from None


@dataclass
class FileEntry:
    path: str  # relative, POSIX separators
    bytes: int
    sha256: str
    crc32c: str = ""  # base64 <u4 per block of `Manifest.block_bytes`; empty in manifests of schema 1


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
    version: str = ""  # the version id ("legacy" for an artifact of the single-folder layout)
    block_bytes: int = BLOCK_BYTES

    @property
    def spec(self):
        from .spec import spec_from_json

        try:
            return spec_from_json(self.element_spec)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
            raise ArtifactError(f"the manifest's element_spec cannot be rebuilt ({type(e).__name__}: {e}); the artifact is damaged, re-create it with save()") from e

    def layout(self):
        """The column layout of the element_spec; ArtifactError for a spec no dataset could have."""
        from .columns import Layout

        spec = self.spec
        try:
            return Layout(spec)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
            raise ArtifactError(f"the manifest's element_spec {spec} cannot be read back ({type(e).__name__}: {e}); the artifact is damaged") from e

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


def parse_manifest(data: bytes, where: str) -> Manifest:
    """A manifest from its bytes, every field of the type it must have; `where` names it in errors."""
    if len(data) > max_manifest_bytes():
        raise ArtifactError(
            f"{where} is larger than {max_manifest_bytes()} bytes, the bound on manifests ({MAX_BYTES_ENV}); "
            "it is damaged or hostile. Raise the bound only for an artifact you trust"
        )
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise TypeError(f"it holds a JSON {type(doc).__name__}, not an object")
        for name in ("element_spec", "details", "options"):
            _check_nesting(doc.get(name), name)
        manifest = Manifest.from_dict(doc)
        _check_fields(manifest)
    except RecursionError:
        raise ArtifactError(f"{where} is nested too deeply to be a manifest; the artifact is damaged or hostile") from None
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ArtifactError(f"{where} is not a readable manifest ({e}); re-create the artifact with save()") from e
    for entry in manifest.files:
        _check_member(where, entry.path)
    return manifest


def _check_nesting(value, name: str) -> None:
    """Refuse structures nested deeper than MAX_NESTING, without recursion (the spec readers recurse)."""
    level = [value]
    for _ in range(MAX_NESTING + 1):
        level = [v for x in level for v in (x.values() if isinstance(x, dict) else x if isinstance(x, list) else ())]
        if not level:
            return
    raise ValueError(f"its {name} is nested deeper than {MAX_NESTING} levels")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_fields(m: Manifest) -> None:
    """Types of the fields every reader relies on; sizes and counts are compared with the files later."""
    kinds = {"format": str, "element_spec": dict, "options": dict, "details": dict, "fingerprint": str, "version": str}
    for name, kind in kinds.items():
        if not isinstance(getattr(m, name), kind):
            raise TypeError(f"{name} is {getattr(m, name)!r}, not a {kind.__name__}")
    for name in ("num_elements", "format_version", "block_bytes"):
        if not _is_count(getattr(m, name)):
            raise ValueError(f"{name} is {getattr(m, name)!r}, not a count")
    if m.block_bytes != BLOCK_BYTES:
        raise ValueError(f"block_bytes is {m.block_bytes}; this library writes and reads blocks of {BLOCK_BYTES}")
    for f in m.files:
        if not isinstance(f.path, str) or not _is_count(f.bytes) or not isinstance(f.sha256, str) or not isinstance(f.crc32c, str):
            raise TypeError(f"its file entry {f.path!r} has fields of the wrong type")


def safe_member(root: Path, relative: str) -> Path:
    """Resolve a path named inside an artifact, refusing anything that leaves the artifact."""
    return Path(root, _check_member(root, relative))


def _check_member(root, relative: str) -> str:
    # plain string checks, no Path objects: this runs for every file on every load (10k images -> 10k calls)
    parts = relative.split("/")
    if not relative or relative.startswith("/") or "\\" in relative or ".." in parts or "" in parts:
        raise ArtifactError(f"{root}: manifest names {relative!r}, which points outside the artifact; refusing it")
    return relative


def list_files(directory: Path, known: dict[str, Digest] | None = None) -> list[FileEntry]:
    """Every data file below `directory` with size and checksums (reusing digests computed while writing)."""
    known = known or {}
    entries = []
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            rel = path.relative_to(directory).as_posix()
            d = known.get(rel)
            d = d if isinstance(d, Digest) else digest_file(path)
            entries.append(FileEntry(rel, d.bytes, d.sha256, d.crc32c))
    return entries


def open_member(directory: Path, manifest: Manifest, relative: str, checked: bool = True) -> CheckedFile:
    """A listed file of the version, opened for reads checked against its block checksums."""
    entry = next((f for f in manifest.files if f.path == relative), None)
    path = os.path.join(os.fspath(directory), _check_member(directory, relative))
    if entry is None:
        raise ArtifactError(f"{path}: the manifest does not list this file; refusing to read it")
    crcs = unpack_crcs(entry.crc32c, path) if checked and entry.crc32c else None
    try:
        return CheckedFile(path, entry.bytes, crcs)
    except FileNotFoundError as e:
        raise ArtifactError(f"{path}: file is missing (the manifest lists it)") from e


def locate_damage(directory: Path, manifest: Manifest) -> str | None:
    """The first problem a block-checksum scan of every file finds (which file, which bytes), or None."""
    for problem in check_files(directory, manifest, checksums=False):
        return problem
    for entry in manifest.files:
        if not entry.crc32c:
            continue
        reader = open_member(directory, manifest, entry.path)
        try:
            for offset in range(0, entry.bytes, 64 * BLOCK_BYTES):
                reader.read(offset, min(64 * BLOCK_BYTES, entry.bytes - offset))
        except ArtifactError as e:
            return str(e)
        finally:
            reader.close()
    return None


def scan_tree(directory: Path) -> tuple[set[str], list[str]]:
    """(relative paths of the plain files below `directory`, problems: links and special files), links never followed."""
    files, problems, pending = set(), [], [""]
    while pending:
        rel = pending.pop()
        try:
            entries = list(os.scandir(os.path.join(directory, rel) if rel else directory))
        except OSError as e:
            problems.append(f"{os.path.join(directory, rel)}: cannot be listed ({e})")
            continue
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                problems.append(f"{entry.path}: is a symbolic link (to {os.readlink(entry.path)!r}); an artifact holds plain files only, refusing to follow it")
            elif entry.is_dir(follow_symlinks=False):
                pending.append(name)
            elif entry.is_file(follow_symlinks=False):
                files.add(name)
            else:
                problems.append(f"{entry.path}: is not a plain file (a device, socket or pipe); refusing to read it")
    return files, problems


def check_tree(directory: Path, manifest: Manifest, own: str = MANIFEST_NAME) -> list[str]:
    """Links and special files anywhere in the version (refused by `load`), and files the manifest (itself `own`) does not list."""
    files, problems = scan_tree(directory)
    listed = {f.path for f in manifest.files} | {own}
    problems += [f"{os.path.join(directory, rel)}: the manifest does not list this file (added after the save?)" for rel in sorted(files - listed)]
    return problems


def check_files(directory: Path, manifest: Manifest, checksums: bool) -> list[str]:
    """Problems found with the files a manifest lists: missing, not a plain file, wrong size, and (optionally) wrong checksum."""
    problems = []
    root = os.fspath(directory)
    for entry in manifest.files:
        path = os.path.join(root, _check_member(directory, entry.path))
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            problems.append(f"{path}: is a symbolic link (to {os.readlink(path)!r}); an artifact holds plain files only, refusing to follow it")
            continue
        if st is None or not stat.S_ISREG(st.st_mode):
            problems.append(f"{path}: file is missing (the manifest lists it)")
            continue
        size = st.st_size
        if size != entry.bytes:
            problems.append(f"{path}: size is {size} bytes, the manifest says {entry.bytes} (truncated or replaced)")
        elif checksums and digest_file(path).sha256 != entry.sha256:
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
