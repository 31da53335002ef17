"""`dataset-assets inspect`: what one artifact holds, which versions it keeps, and whether it is verified."""

from __future__ import annotations

from dataclasses import asdict

from .output import artifact_arguments, emit, size, spec_tree, target

EXAMPLE = """examples:
  dataset-assets inspect image_pathlist              an asset name, under $DATASET_ASSETS_HOME/artifacts
  dataset-assets inspect artifacts/train --json      a folder; JSON for scripts
  dataset-assets inspect s3://bucket/train --version 20260101T000000000000Z-1a2b3c"""


HELP = "what an artifact holds: format, version, elements, bytes, element_spec, fingerprint, versions, verification"
DESCRIPTION = "Show what an artifact holds, read from its manifest and commit record (no data file is read)."
add_arguments = artifact_arguments


def verification(path, version: str, manifest_sha256: str) -> dict:
    """The state of the stamp beside the artifact: `verified` (it names this version), `other version`, or `unverified`."""
    from ..home import read_stamp

    try:
        stamp = read_stamp(as_path(path))
    except (OSError, ValueError):
        stamp = None
    if not stamp:
        return {"state": "unverified"}
    same = stamp.get("version") == version and stamp.get("manifest_sha256") in (manifest_sha256, None)
    fields = {k: stamp.get(k) for k in ("version", "checked_by", "verified_at")}
    return {"state": "verified" if same else "other version", **fields}


def as_path(text):
    """A local Path, or a UPath for a URL (the stamp sits beside the artifact: its parent is needed)."""
    from pathlib import Path

    if "://" in str(text) and not str(text).startswith("file://"):
        from upath import UPath

        return UPath(str(text))
    return Path(str(text).removeprefix("file://"))


def describe(path, version: str | None = None) -> dict:
    import dataset_assets as da
    from ..api import open_artifact

    opened = open_artifact(path, version=version, fetch=False)
    m = opened.manifest
    infos = da.versions(path)
    sha = next((v.manifest_sha256 for v in infos if v.id == opened.resolved.id), "")
    return {
        "path": str(opened.root),
        "format": m.format,
        "format_version": m.format_version,
        "version": opened.resolved.id,
        "current": any(v.current and v.id == opened.resolved.id for v in infos),
        "created": m.created,
        "library_version": m.library_version,
        "num_elements": m.num_elements,
        "bytes": m.total_bytes,
        "files": len(m.files),
        "fingerprint": m.fingerprint,
        "options": m.options,
        "element_spec": m.element_spec,
        "verification": verification(path, opened.resolved.id, sha),
        "versions": [asdict(v) for v in infos],
    }


def human(doc: dict) -> list[str]:
    ver = doc["verification"]
    if ver["state"] == "verified":
        state = f"verified ({ver['checked_by']}, {ver['verified_at']})"
    elif ver["state"] == "other version":
        state = f"not verified: the stamp names version {ver['version']} ({ver['checked_by']}, {ver['verified_at']})"
    else:
        state = "not verified: no stamp (run its checks: dataset-assets materialize, or dataset-assets verify for the full offline check)"
    options = ", ".join(f"{k}={v}" for k, v in doc["options"].items()) or "(defaults)"
    lines = [
        doc["path"],
        f"  format       {doc['format']} (format version {doc['format_version']}, written by dataset-assets {doc['library_version']})",
        f"  version      {doc['version']}{' (current)' if doc['current'] else ''}, created {doc['created']}",
        f"  elements     {doc['num_elements']:,}",
        f"  bytes        {size(doc['bytes'])} in {doc['files']} files",
        f"  fingerprint  {doc['fingerprint']}",
        f"  options      {options}",
        f"  verified     {state}",
        "  element_spec",
        *spec_tree(doc["element_spec"], "    "),
        f"  versions ({len(doc['versions'])} retained, oldest first)",
    ]
    for v in doc["versions"]:
        mark = "*" if v["current"] else " "
        lines.append(f"  {mark} {v['id']}  {v['created']}  {v['format']:<8} {v['num_elements']:>10,} elements  {size(v['bytes']):>10}  {v['fingerprint'][:16]}")
    return lines


def run(args) -> int:
    doc = describe(target(args.artifact), args.version)
    emit(doc, human(doc), args.json)
    return 0
