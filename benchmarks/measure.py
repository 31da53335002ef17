"""One measurement = one fresh process: wall time of the operation and peak resident memory.

The child sets up (imports, generates the data, builds the source dataset), then resets
the kernel's RSS high-water mark (/proc/self/clear_refs), runs the timed operation and
reports: seconds, the RSS after setup, and the peak RSS during the operation (which
includes what setup holds, e.g. the source arrays a writer is given, and TensorFlow itself).

Run as `python -m benchmarks.measure TASK_JSON`; prints one `RESULT {...}` line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_PREFIX = "RESULT "


# --- parent side -------------------------------------------------------------------------------

def run(task: dict, timeout: float) -> dict:
    """Run one task in a new process; a failure comes back as {"error": ...}, never raised."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.measure", json.dumps(task)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_PREFIX):
            result = json.loads(line[len(_PREFIX):])
            result["process_seconds"] = round(time.perf_counter() - started, 3)
            return result
    tail = [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith(("WARNING: All log", "I0000"))][-6:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)[-1500:]}


# --- child side --------------------------------------------------------------------------------

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (and ru_maxrss) to the current RSS
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    return max(_status_kb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def iterate(ds) -> int:
    """Iterate a batched dataset to the end in Python, as a training loop would; returns the element count."""
    import tensorflow as tf

    n = 0
    for batch in ds:
        n += int(tf.nest.flatten(batch)[0].shape[0])
    return n


def iterate_elements(ds) -> int:
    n = 0
    for _ in ds:
        n += 1
    return n


def _prepare(task: dict):
    """Everything before the clock starts; returns the timed operation."""
    op = task["op"]
    if op == "idle":
        import tensorflow  # noqa: F401

        if "dataset_assets" in task["imports"]:
            import dataset_assets  # noqa: F401
        return lambda: {}
    if op.startswith("dagster_"):
        from . import dagster_overhead

        return dagster_overhead.prepare(task)
    if op.startswith("memory_"):
        from . import memory

        return memory.prepare(task)
    if op.startswith("random_"):
        from . import random_access

        return random_access.prepare(task)
    from . import methods, workloads

    method = methods.BY_NAME[task["method"]]
    extra = (task["method"],) if method.kind == "ours" else ()
    wl, path = task["workload"], Path(task["path"]) if task.get("path") else None
    import importlib

    import tensorflow  # noqa: F401  (imported before the clock in every case)

    for module in method.imports:
        importlib.import_module(module)
    if method.kind == "ours":  # like TensorFlow for the baselines: the library's import is not the operation's cost
        import dataset_assets  # noqa: F401

    if op == "write":
        arrays = workloads.make_arrays(wl, task["n"])
        source = arrays if method.source == "arrays" else workloads.dataset(wl, arrays)
        write = methods.resolve(method.write)
        return lambda: write(source, path, wl, *extra) or {}
    read = methods.resolve(method.read)
    if method.reads_arrays:
        arrays = workloads.make_arrays(wl, task["n"])
        return lambda: {"elements": iterate(read(arrays, wl))}
    return lambda: {"elements": iterate(read(path, wl, *extra))}


def child(task: dict) -> dict:
    if task.get("patch"):  # try a change to the library without editing it: benchmarks.profile --patch
        from .methods import resolve

        resolve(task["patch"])()
    operation = _prepare(task)
    setup_rss = _status_kb("VmRSS") * 1024
    reset = _reset_peak()
    profiler = None
    if task.get("cprofile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    out = operation() or {}
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(task["cprofile"])
    return {**out, "seconds": round(seconds, 4), "setup_rss": setup_rss, "peak_rss": _peak_bytes(), "peak_is_op_only": reset}


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = child(json.loads(sys.argv[1]))
    print(_PREFIX + json.dumps(result), flush=True)
