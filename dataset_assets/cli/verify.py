"""`dataset-assets verify`: the full offline check of an artifact; exit status 0 when intact, 1 otherwise."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from .output import emit, target

EXAMPLE = """examples:
  dataset-assets verify artifacts/train && echo intact
  dataset-assets verify image_pathlist --json
  dataset-assets verify s3://bucket/train --version 20260101T000000000000Z-1a2b3c"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check every file's SHA-256 and read every element back against the fingerprint (exit 1 when damaged)",
        description="Check every file's SHA-256 and read every element back against the manifest's fingerprint. "
        "Exit status 0 when the artifact is intact, 1 when it is not (every problem is listed).",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("artifact", metavar="PATH|URL|NAME", help="an artifact folder, an fsspec URL, or an asset name")
    p.add_argument("--version", help="a retained version id (default: the current one)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..integrity import verify

    report = verify(target(args.artifact), version=args.version)
    if report.ok:
        human = [f"{report.path}: OK, version {report.version}: {report.files_checked} files, {report.num_elements:,} elements, fingerprint {report.fingerprint}"]
    else:
        human = [f"{report.path}: DAMAGED" + (f" (version {report.version})" if report.version else "")] + [f"  - {p}" for p in report.problems]
    emit(asdict(report), human, args.json)
    return 0 if report.ok else 1
