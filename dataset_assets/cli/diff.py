"""`dataset-assets diff`: how two artifacts (or two folders of partitions) differ: spec, count, fingerprint, files."""

from __future__ import annotations

import argparse

from .output import emit, leaf_text, target

EXAMPLE = """examples:
  dataset-assets diff artifacts/train artifacts/train_tfrecord     same data in two formats: exit 0
  dataset-assets diff artifacts/train@20260101T000000000000Z-1a2b3c artifacts/train --json
  dataset-assets diff old/daily_images new/daily_images            folders of partitions: which partitions differ"""


HELP = "compare two artifacts (element_spec, count, fingerprint, which files/shards) or two folders of partitions"
DESCRIPTION = (
    "Compare A and B: element_spec leaf by leaf, element count, fingerprint, and the files (shards) whose content "
    "differs. A and B may also be folders of artifacts, such as the partitions of one asset: then each partition is "
    "compared. NAME@VERSION names a retained version. Exit status 0 when the data is the same, 1 when it differs."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="an artifact (PATH|URL|NAME, optionally @VERSION) or a folder of artifacts")
    p.add_argument("b", metavar="B", help="the same for the other side")


def _split(text: str) -> tuple[str, str | None]:
    head, sep, version = text.rpartition("@")
    return (head, version) if sep and head and "/" not in version else (text, None)


def _is_artifact(path) -> bool:
    from ..storage import ArtifactStore, Location

    store = ArtifactStore(Location.of(path))
    return store.record() is not None or store.is_legacy()


def _leaves(doc: dict, prefix: str = "") -> dict[str, str]:
    if doc["type"] in ("tensor", "ragged"):
        return {prefix or "(element)": leaf_text(doc)}
    names = list(doc["items"]) if doc["type"] == "dict" else doc.get("fields") or [str(i) for i in range(len(doc["items"]))]
    items = list(doc["items"].values()) if doc["type"] == "dict" else doc["items"]
    out = {}
    for name, item in zip(names, items):
        out.update(_leaves(item, f"{prefix}/{name}" if prefix else str(name)))
    return out


def compare(a: str, b: str) -> dict:
    """The differences between two artifacts, each as {"what": ..., "a": ..., "b": ...}."""
    import dataset_assets as da

    (pa, va), (pb, vb) = _split(a), _split(b)
    ma, mb = da.read_manifest(target(pa), version=va), da.read_manifest(target(pb), version=vb)
    diffs = []
    for what in ("format", "num_elements", "fingerprint"):
        if getattr(ma, what) != getattr(mb, what):
            diffs.append({"what": what, "a": getattr(ma, what), "b": getattr(mb, what)})
    la, lb = _leaves(ma.element_spec), _leaves(mb.element_spec)
    for leaf in sorted(set(la) | set(lb)):
        if la.get(leaf) != lb.get(leaf):
            diffs.append({"what": f"element_spec {leaf}", "a": la.get(leaf), "b": lb.get(leaf)})
    fa, fb = {f.path: f.sha256 for f in ma.files}, {f.path: f.sha256 for f in mb.files}
    files = [] if ma.format != mb.format else [
        {"file": f, "a": fa.get(f), "b": fb.get(f)} for f in sorted(set(fa) | set(fb)) if fa.get(f) != fb.get(f)
    ]
    data_same = not [d for d in diffs if d["what"] != "format"]
    return {"a": a, "b": b, "version_a": ma.version, "version_b": mb.version, "same_data": data_same, "differences": diffs, "files": files}


def compare_folders(a: str, b: str) -> dict:
    from ..catalog import available

    na, nb = set(available(a)), set(available(b))
    parts = {n: compare(f"{a.rstrip('/')}/{n}", f"{b.rstrip('/')}/{n}") for n in sorted(na & nb)}
    return {
        "a": a, "b": b,
        "only_in_a": sorted(na - nb), "only_in_b": sorted(nb - na),
        "partitions": parts,
        "same_data": na == nb and all(p["same_data"] for p in parts.values()),
    }


def _human_one(doc: dict, indent: str = "") -> list[str]:
    if not doc["differences"] and not doc["files"]:
        return [f"{indent}same: {doc['a']} (version {doc['version_a']}) and {doc['b']} (version {doc['version_b']})"]
    head = "same data" if doc["same_data"] else "DIFFERENT"
    lines = [f"{indent}{head}: {doc['a']} (version {doc['version_a']}) vs {doc['b']} (version {doc['version_b']})"]
    for d in doc["differences"]:
        lines.append(f"{indent}  {d['what']}: {d['a']} | {d['b']}")
    for f in doc["files"]:
        state = "only in A" if f["b"] is None else "only in B" if f["a"] is None else "content differs"
        lines.append(f"{indent}  file {f['file']}: {state}")
    return lines


def human(doc: dict) -> list[str]:
    if "partitions" not in doc:
        return _human_one(doc)
    lines = [f"{'same' if doc['same_data'] else 'DIFFERENT'}: {doc['a']} vs {doc['b']} ({len(doc['partitions'])} partitions in both)"]
    lines += [f"  only in A: {n}" for n in doc["only_in_a"]] + [f"  only in B: {n}" for n in doc["only_in_b"]]
    for name, part in doc["partitions"].items():
        if not part["same_data"]:
            lines += _human_one(part, "  ")
    return lines


def run(args) -> int:
    a, b = args.a, args.b
    folders = not _is_artifact(target(_split(a)[0])) and not _is_artifact(target(_split(b)[0]))
    doc = compare_folders(a, b) if folders else compare(a, b)
    emit(doc, human(doc), args.json)
    return 0 if doc["same_data"] else 1
