"""What every subcommand shares: naming an artifact (path, URL or asset name), and printing for people or for scripts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..errors import ArtifactError
from ..home import HOME_ENV, artifact_path


def target(text: str):
    """The artifact `text` names: an existing path, a URL (`s3://...`, `memory://...`), or an asset name under the home.

    A local path that does not exist and a name that is neither here nor materialized raise
    `ArtifactError` (exit status 2): `verify` must not call a typo "damaged".
    """
    if "://" in text:
        return text
    if os.sep in text or "/" in text or Path(text).exists():
        if not Path(text).exists():
            raise ArtifactError(f"{text} does not exist; give an artifact folder, a URL, or an asset name (see `dataset-assets ls`)")
        return text
    try:
        path = artifact_path(text)
    except ArtifactError:
        raise ArtifactError(f"{text!r} is neither a folder here nor an asset name; see `dataset-assets ls`") from None
    if path.exists():
        return str(path)
    raise _unknown_name(text, path)


def _unknown_name(name: str, path) -> ArtifactError:
    from ..catalog import available
    from ..pipelines import POINTER_SUFFIX, read_pointer

    pointer = path.with_name(path.name + POINTER_SUFFIX)
    if pointer.is_file():
        built_on = read_pointer(pointer)["artifact"]
        return ArtifactError(
            f"{name!r} is a built pipeline (the artifact {built_on!r} plus a recipe), not an artifact: inspect or verify "
            f"{built_on!r}, and load the pipeline in Python with dataset_assets.load_asset({name!r})"
        )
    names = available()
    listed = f"available: {', '.join(names)}" if names else "nothing is materialized there yet: run `dataset-assets materialize`"
    return ArtifactError(f"no artifact {name!r} in {path.parent} ({HOME_ENV}={os.environ.get(HOME_ENV, '<unset>')}) and no folder {name!r} here; {listed}")


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
