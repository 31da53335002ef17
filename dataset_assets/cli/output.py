"""What every subcommand shares: naming an artifact (path, URL or asset name), and printing for people or for scripts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..errors import ArtifactError
from ..home import artifact_path


def target(text: str):
    """The artifact `text` names: an existing path, a URL (`s3://...`, `memory://...`), or an asset name under the home."""
    if "://" in text or os.sep in text or "/" in text or Path(text).exists():
        return text
    try:
        path = artifact_path(text)
    except ArtifactError:
        return text
    return str(path) if path.exists() else text  # an unknown name: the library's error names what was looked for


def artifact_arguments(p) -> None:
    """The arguments of a command on one artifact: which one, and which of its versions."""
    p.add_argument("artifact", metavar="PATH|URL|NAME", help="an artifact folder, an fsspec URL, or an asset name")
    p.add_argument("--version", help="a retained version id (default: the current one)")


def size(nbytes: int | None) -> str:
    if nbytes is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.2f} {unit}"
    return f"{nbytes} B"


def leaf_text(doc: dict) -> str:
    """`uint8[28, 28, 1]`, `float32[?]`, `int64 ragged[?, ?]`: one leaf of a manifest's element_spec."""
    shape = ", ".join("?" if d is None else str(d) for d in doc["shape"])
    return f"{doc['dtype']}{' ragged' if doc['type'] == 'ragged' else ''}[{shape}]"


def spec_tree(doc: dict, indent: str = "  ") -> list[str]:
    """The element_spec (its JSON form, as in manifest.json) as indented lines, one per leaf or container."""
    if doc["type"] in ("tensor", "ragged"):
        return [indent + leaf_text(doc)]
    if doc["type"] == "dict":
        names, items = list(doc["items"]), list(doc["items"].values())
    elif doc["type"] == "namedtuple":
        names, items = doc["fields"], doc["items"]
    else:
        names, items = [f"[{i}]" for i in range(len(doc["items"]))], doc["items"]
    lines = []
    width = max((len(n) for n in names), default=0)
    for name, item in zip(names, items):
        if item["type"] in ("tensor", "ragged"):
            lines.append(f"{indent}{name:<{width}}  {leaf_text(item)}")
        else:
            kind = f" ({item['name']})" if item["type"] == "namedtuple" else ""
            lines.append(f"{indent}{name}{kind}")
            lines += spec_tree(item, indent + "  ")
    return lines or [indent + "(empty)"]


def emit(doc, human: list[str], as_json: bool) -> None:
    """Print `doc` as JSON (for scripts) or the `human` lines (for people)."""
    if as_json:
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print("\n".join(human))
    sys.stdout.flush()
