"""`dataset-assets verify`: the full offline check of an artifact; exit status 0 when intact, 1 otherwise."""

from __future__ import annotations

from dataclasses import asdict

from .output import artifact_arguments, emit, target

EXAMPLE = """examples:
  dataset-assets verify artifacts/train && echo intact
  dataset-assets verify image_pathlist --json
  dataset-assets verify s3://bucket/train --version 20260101T000000000000Z-1a2b3c"""


HELP = "check every file's SHA-256 and read every element back against the fingerprint (exit 1 when damaged)"
DESCRIPTION = (
    "Check every file's SHA-256 and read every element back against the manifest's fingerprint. "
    "Exit status 0 when the artifact is intact, 1 when it is not (every problem is listed)."
)
add_arguments = artifact_arguments


def run(args) -> int:
    from ..integrity import verify

    report = verify(target(args.artifact), version=args.version)
    if report.ok:
        human = [f"{report.path}: OK, version {report.version}: {report.files_checked} files, {report.num_elements:,} elements, fingerprint {report.fingerprint}"]
    else:
        human = [f"{report.path}: DAMAGED" + (f" (version {report.version})" if report.version else "")] + [f"  - {p}" for p in report.problems]
    emit(asdict(report), human, args.json)
    return 0 if report.ok else 1
