"""`dataset-assets ls`: the artifacts (and built pipelines) under a base folder, one line each."""

from __future__ import annotations

import argparse

from .output import emit, size

EXAMPLE = """examples:
  dataset-assets ls                          the artifacts under $DATASET_ASSETS_HOME/artifacts
  dataset-assets ls /data/artifacts --json
  dataset-assets ls s3://bucket/artifacts"""


HELP = "list the artifacts under a folder or URL: format, elements, size, versions, verified or not"
DESCRIPTION = "List the artifacts under BASE (default: $DATASET_ASSETS_HOME/artifacts) from their commit records and stamps."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", nargs="?", metavar="BASE", help="a folder or fsspec URL holding artifacts")


def listing(base) -> tuple[str, list[dict]]:
    from ..errors import DatasetAssetsError
    from ..catalog import available
    from ..home import artifact_base
    from ..pipelines import POINTER_SUFFIX
    from ..storage import ArtifactStore, Location
    from .inspect import verification

    root = artifact_base(base)
    rows = []
    for name in available(base):
        artifact = root / name
        if not Location.of(artifact).child("current.json").exists() and not Location.of(artifact).child("manifest.json").exists():
            pointer = artifact.with_name(name + POINTER_SUFFIX)
            rows.append({"name": name, "kind": "pipeline", "pointer": str(pointer)})
            continue
        try:
            infos = ArtifactStore(Location.of(artifact)).versions()
        except DatasetAssetsError as e:
            rows.append({"name": name, "kind": "artifact", "error": str(e)})
            continue
        current = next((v for v in infos if v.current), None)
        row = {"name": name, "kind": "artifact", "versions": len(infos)}
        if current is not None:
            row.update(format=current.format, num_elements=current.num_elements, bytes=current.bytes, version=current.id,
                       fingerprint=current.fingerprint, verified=verification(artifact, current.id, current.manifest_sha256)["state"] == "verified")
        rows.append(row)
    return str(root), rows


def human(base: str, rows: list[dict]) -> list[str]:
    if not rows:
        return [f"{base}: no artifacts (materialize some with `dataset-assets materialize`, or save one with dataset_assets.save)"]
    width = max(len(r["name"]) for r in rows)
    lines = [f"{base}:", f"  {'name':<{width}}  {'format':<8} {'elements':>10} {'size':>11} {'versions':>8}  verified"]
    for r in rows:
        if r["kind"] == "pipeline":
            lines.append(f"  {r['name']:<{width}}  {'pipeline':<8} {'':>10} {'':>11} {'':>8}  (artifact + recipe: {r['pointer']})")
        elif "error" in r:
            lines.append(f"  {r['name']:<{width}}  UNREADABLE: {r['error']}")
        else:
            lines.append(f"  {r['name']:<{width}}  {r['format']:<8} {r['num_elements']:>10,} {size(r['bytes']):>11} {r['versions']:>8}  {'yes' if r['verified'] else 'no'}")
    return lines


def run(args) -> int:
    base, rows = listing(args.base)
    emit({"base": base, "artifacts": rows}, human(base, rows), args.json)
    return 0
