"""Shared test helpers: compare datasets element by element, including ragged and string leaves; run Dagster's CLI."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf


def leaves(element) -> list:
    """Flat leaves as numpy; a ragged leaf as (nested lists, ragged_rank, dtype).

    `element`: tensors, as a dataset yields them, or the NumPy values `dataset_assets.open` returns.
    """
    out = []
    for x in tf.nest.flatten(element, expand_composites=False):
        if isinstance(x, tf.RaggedTensor):
            out.append(("ragged", x.to_list(), x.ragged_rank, x.dtype.name))
            continue
        value = x.numpy() if isinstance(x, tf.Tensor) else x
        # strings as objects: a bytes scalar of dtype S would drop trailing b"\x00"
        strings = isinstance(value, bytes) or getattr(value, "dtype", None) == object or getattr(x, "dtype", None) == tf.string
        out.append(np.asarray(value, dtype=object) if strings else np.asarray(value))
    return out


def assert_same_elements(actual: tf.data.Dataset, expected: tf.data.Dataset) -> None:
    assert actual.element_spec == expected.element_spec, f"{actual.element_spec} != {expected.element_spec}"
    got = [leaves(e) for e in actual]
    want = [leaves(e) for e in expected]
    assert len(got) == len(want), f"{len(got)} elements, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            if isinstance(b, np.ndarray):
                assert a.dtype == b.dtype and a.shape == b.shape, f"element {i}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
                if b.dtype == object:  # strings: compare the bytes objects, not the pointers
                    assert a.tolist() == b.tolist(), f"element {i}: {a!r} vs {b!r}"
                else:
                    assert a.tobytes() == b.tobytes(), f"element {i}: values differ: {a!r} vs {b!r}"
            else:
                assert a == b, f"element {i}: {a!r} != {b!r}"


def version_dir(path) -> Path:
    """The folder of the current version of the local artifact at `path` (its files as `save` wrote them)."""
    current = json.loads((Path(path) / "current.json").read_text())["current"]
    return Path(path) / "versions" / current


def rewrite_manifest(path, edit) -> None:
    """Edit the current version's manifest as a tool (or an attacker) would that also updates the commit
    record's digest of it, so the library's deeper checks of the manifest are what is tested."""
    target = version_dir(path) / "manifest.json"
    doc = json.loads(target.read_text())
    doc = edit(doc) or doc
    data = json.dumps(doc).encode()
    target.write_bytes(data)
    record_path = Path(path) / "current.json"
    record = json.loads(record_path.read_text())
    for v in record["versions"]:
        if v["id"] == record["current"]:
            v["manifest_sha256"] = hashlib.sha256(data).hexdigest()
    record_path.write_text(json.dumps(record))


def dagster_validate(workspace_dir) -> str:
    """`dagster definitions validate -w workspace.yaml` in `workspace_dir`, as a user runs it; its output (it must exit 0)."""
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=workspace_dir, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def bytes_read(under=None) -> int:
    """Bytes this process has read: by read calls (`rchar` of /proc/self/io), plus, given a folder, the pages of
    files under it that its memory maps hold resident (random access reads blocks through a map, which `rchar` misses).
    Reading /proc/self/smaps (megabytes for a process with TensorFlow) is not counted."""
    mapped = 0
    if under is not None:
        before = _rchar()
        mapped = mapped_resident_bytes(under)
        _OWN_READS[0] += _rchar() - before
    return _rchar() - _OWN_READS[0] + mapped


_OWN_READS = [0]  # what bytes_read itself has read of /proc/self/smaps


def _rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar"))


def mapped_resident_bytes(under) -> int:
    """How much of the files at or under `under` this process's memory maps hold resident (/proc/self/smaps)."""
    under, total, inside = str(under), 0, False
    for line in open("/proc/self/smaps"):
        if "-" in line.split(" ", 1)[0]:  # a map's header: "start-end perms offset dev inode path"
            path = line.rstrip("\n").split(None, 5)[5] if len(line.split(None, 5)) == 6 else ""
            inside = path == under or path.startswith(under.rstrip("/") + "/")
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total
