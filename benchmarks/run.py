"""Run the benchmark suite: `python -m benchmarks.run [--quick] [--memory] [--dagster] [--out DIR]`.

Every measurement is a separate process (see `measure`); times are the minimum over
`--repeat` runs, peak RSS the maximum. Results go to DIR/results.json, DIR/results.md
and DIR/benchmarks.png, and the tables are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import measure, memory, report, workloads
from .methods import METHODS, format_available, peer_missing


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("tensorflow", "tensorflow-cpu", "keras", "numpy", "h5py", "pillow", "dagster", "dataset-assets"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    try:
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=measure.REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return out


def _machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next((int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1e9, 1), "os": platform.platform()}


def disk_bytes(path: Path) -> int | None:
    if not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure_repeated(task: dict, args, before=None) -> dict:
    """min seconds / max peak RSS over up to `repeat` runs; stops early once a run alone exceeds the budget."""
    runs = []
    spent = 0.0
    for _ in range(args.repeat):
        if before:
            before()
        r = measure.run(task, args.timeout)
        if "error" in r:
            return {"error": r["error"], "runs": [x["seconds"] for x in runs]}
        runs.append(r)
        spent += r["seconds"]
        if spent > args.budget:
            break
    best = min(runs, key=lambda x: x["seconds"])
    out = {**best, "runs": [x["seconds"] for x in runs], "peak_rss": max(x["peak_rss"] for x in runs)}
    if out.get("exit_code"):
        out["error"] = f"exit code {out['exit_code']}"
    return out


def _remover(path: Path):
    return lambda: shutil.rmtree(path, ignore_errors=True)


def run_main(args, work: Path, results: dict, save) -> None:
    for wl in args.workloads:
        n = workloads.size(wl, args.quick)
        raw = workloads.nbytes(workloads.make_arrays(wl, n))
        wdir = work / wl
        shutil.rmtree(wdir, ignore_errors=True)
        wdir.mkdir(parents=True)
        for m in METHODS:
            if wl not in m.workloads or m.name not in args.methods:
                continue
            row = {"workload": wl, "method": m.name, "kind": m.kind, "n": n, "raw_bytes": raw, "note": m.note}
            results["rows"] = [r for r in results["rows"] if (r["workload"], r["method"]) != (wl, m.name)] + [row]
            if m.kind == "ours" and not format_available(m.name):
                row["error"] = "format not in dataset_assets/formats yet"
                continue
            if m.kind == "peer" and peer_missing(m):
                row["error"] = f"{peer_missing(m)} not installed (pip install -e '.[bench]')"
                continue
            path = wdir / (m.reads_from or m.name)
            base = {"workload": wl, "n": n, "method": m.name, "path": str(path), "patch": args.patch}
            print(f"[{time.strftime('%H:%M:%S')}] {wl}/{m.name}", flush=True)
            if m.write:
                row["write"] = measure_repeated({**base, "op": "write"}, args, before=_remover(path))
                row["disk_bytes"] = disk_bytes(path)
            if m.read and not (row.get("write") or {}).get("error"):
                row["read"] = measure_repeated({**base, "op": "read"}, args)
                if row["read"].get("elements") not in (None, n):
                    row["read"]["error"] = f"iterated {row['read']['elements']} elements, expected {n}"
            save()
        if not args.keep:
            shutil.rmtree(wdir, ignore_errors=True)


def run_memory(args, work: Path, results: dict, save) -> None:
    results["idle_rss"] = {what: measure.run({"op": "idle", "imports": what}, args.timeout).get("peak_rss") for what in ("tensorflow", "tensorflow+dataset_assets")}
    results["memory"] = []
    mdir = work / "memory"
    mdir.mkdir(parents=True, exist_ok=True)
    for method in memory.METHODS:
        n = memory.count(method, args.quick)
        if method != "tf_save" and not format_available(method):
            results["memory"].append({"method": method, "gib": n * memory.element_bytes(method) / 2**30, "write": {"error": "format not available yet"}})
            continue
        path = mdir / method
        row = {"method": method, "n": n, "gib": n * memory.element_bytes(method) / 2**30}
        results["memory"].append(row)
        print(f"[{time.strftime('%H:%M:%S')}] memory/{method} ({row['gib']:.2f} GiB)", flush=True)
        task = {"method": method, "n": n, "path": str(path), "patch": args.patch}
        one = argparse.Namespace(**{**vars(args), "repeat": 1})
        row["write"] = measure_repeated({**task, "op": "memory_write"}, one, before=_remover(path))
        row["disk_bytes"] = disk_bytes(path)
        if not row["write"].get("error"):
            row["read"] = measure_repeated({**task, "op": "memory_read"}, one)
        save()
        shutil.rmtree(path, ignore_errors=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1/100 of the full sizes (and a 100 MiB memory workload): a smoke run")
    p.add_argument("--memory", action="store_true", help="also run the lazily generated 4 GiB memory workload (slow)")
    p.add_argument("--dagster", action="store_true", help="also measure the Dagster materialization overhead")
    p.add_argument("--no-main", dest="main", action="store_false", help="skip the main workloads (e.g. with --memory)")
    p.add_argument("--out", default="benchmark-results", help="where results.json/.md and benchmarks.png go")
    p.add_argument("--work", default=None, help="scratch directory for the data written (default: a new temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the data written in --work")
    p.add_argument("--repeat", type=int, default=None, help="runs per measurement, min taken (default 3, quick 1)")
    p.add_argument("--budget", type=float, default=60.0, help="stop repeating a measurement once its runs took this many seconds")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a measurement process is killed")
    p.add_argument("--workloads", default=",".join(workloads.WORKLOADS))
    p.add_argument("--methods", default=",".join(m.name for m in METHODS))
    p.add_argument("--patch", default=None, help="module:function applied in every measuring process first (a prototype, tried without editing the library)")
    p.add_argument("--merge", action="store_true", help="update DIR/results.json in place instead of starting a new one")
    args = p.parse_args(argv)
    args.methods = [m for m in args.methods.split(",") if m]
    return settle_args(p, args, unknown=set(args.methods) - {m.name for m in METHODS})


def settle_args(p: argparse.ArgumentParser, args, unknown: set = frozenset()):
    """The options every benchmark entry point shares: workloads checked, repeat and timeout defaulted by --quick."""
    args.workloads = [w for w in args.workloads.split(",") if w]
    bad = set(args.workloads) - set(workloads.WORKLOADS) | set(unknown)
    if bad:
        p.error(f"unknown workload or method: {', '.join(sorted(bad))}")
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.timeout = args.timeout or (600 if args.quick else 3600)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "results.json"
    sizes = {w: workloads.size(w, args.quick) for w in workloads.WORKLOADS}
    meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "repeat": args.repeat, "sizes": sizes,
            "workloads": list(workloads.WORKLOADS), "descriptions": workloads.DESCRIPTIONS, "machine": _machine(),
            "versions": _versions(), "patch": args.patch, "command": " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])])}
    results = {"meta": meta, "rows": [], "memory": []}
    if args.merge and previous.exists():
        import json

        results = {**json.loads(previous.read_text()), "meta": meta}

    def save():
        report.write_all(results, out, quiet=True)

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dataset-assets-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.main:
            run_main(args, work, results, save)
        if args.memory:
            run_memory(args, work, results, save)
        if args.dagster:
            from . import dagster_overhead

            results["dagster"] = dagster_overhead.run(args, work)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report.write_all(results, out)
    print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {out / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
