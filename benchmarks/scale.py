"""Writing one artifact in parts on a Dask cluster: one worker against two, on this machine.

    python -m benchmarks.scale [--quick] [--out DIR] [--elements N] [--parts P] [--repeat R]

The mixed workload (variable-length tokens and strings: the write is CPU-bound encoding) is
written to tfrecord as P parts by `dataset_assets.save_part` tasks on a Dask `LocalCluster`
(processes, one thread each), then committed by `dataset_assets.commit_parts` in a task on the
same cluster. The clock runs from the first part's submission to the commit's end; the workers
are started, have imported TensorFlow and built the workload before it starts (a warm cluster,
as a team's is). Each worker is held to one CPU (`sched_setaffinity`), as a Kubernetes pod with
`cpu: 1` or a Dask worker per core is: TensorFlow alone would spread one writer over both cores
and leave a second worker nothing to gain. The same runs unpinned are reported beside, and a
plain single-process `dataset_assets.save` of the same data for reference. Every committed
artifact's fingerprint is checked against the single save's.

Writes DIR/scale.json and DIR/scale.md and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from . import workloads

WORKLOAD = "mixed"
FULL_ELEMENTS = 1_000_000  # about 9 s for one process to write: the parts' fixed costs (a read pipeline each, the commit) stay small
_ARRAYS: dict = {}


# --- on the workers ------------------------------------------------------------------------------


def _prepare(n: int, cpu: int | None) -> int:
    """Hold this worker to one CPU, import the library, build the workload once; returns the pid."""
    if cpu is not None:  # every thread of the process (the call pins one thread); those started later inherit it
        for tid in os.listdir("/proc/self/task"):
            os.sched_setaffinity(int(tid), {cpu})
    import dataset_assets  # noqa: F401 -- TensorFlow is loaded here, not inside the clock
    if _ARRAYS.get("n") != n:
        _ARRAYS.update(n=n, arrays=workloads.make_arrays(WORKLOAD, n))
    return os.getpid()


def part_dataset(arrays: dict, part: int, num_parts: int):
    """Part `part` of `num_parts` contiguous slices of the workload, as the unbatched dataset a writer is given."""
    import numpy as np

    n = len(arrays["id"])
    a, b = part * n // num_parts, (part + 1) * n // num_parts
    ends = np.concatenate([[0], np.cumsum(arrays["tokens_lengths"])])
    sliced = {k: v[a:b] for k, v in arrays.items() if k != "tokens_values"}
    sliced["tokens_values"] = arrays["tokens_values"][ends[a] : ends[b]]
    return workloads.dataset(WORKLOAD, sliced)


def _write_part(path: str, part: int, num_parts: int) -> float:
    import dataset_assets as da

    started = time.perf_counter()
    da.save_part(part_dataset(_ARRAYS["arrays"], part, num_parts), path, part=part, num_parts=num_parts, format="tfrecord", overwrite=True)
    return time.perf_counter() - started


def _commit(path: str, num_parts: int, *written) -> tuple[str, float]:
    import dataset_assets as da

    started = time.perf_counter()
    manifest = da.commit_parts(path, num_parts)
    return manifest.fingerprint, time.perf_counter() - started


# --- in the parent -------------------------------------------------------------------------------


def run_cluster(workers: int, pinned: bool, n: int, parts: int, repeat: int, work: Path) -> dict:
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        addresses = sorted(client.scheduler_info()["workers"])
        cpus = os.sched_getaffinity(0)
        for i, address in enumerate(addresses):
            cpu = sorted(cpus)[i % len(cpus)] if pinned else None
            client.submit(_prepare, n, cpu, workers=[address], pure=False).result()
        runs = []
        for r in range(repeat):
            path = str(work / f"w{workers}-{'pinned' if pinned else 'free'}-{r}")
            started = time.perf_counter()
            written = client.map(_write_part, [path] * parts, range(parts), [parts] * parts, pure=False)
            fingerprint, commit_seconds = client.submit(_commit, path, parts, *written, pure=False).result()
            runs.append({"seconds": time.perf_counter() - started, "commit_seconds": commit_seconds, "part_seconds": client.gather(written), "fingerprint": fingerprint})
            shutil.rmtree(path, ignore_errors=True)
    return {"workers": workers, "pinned": pinned, "runs": runs, "best": min(x["seconds"] for x in runs), "median": statistics.median(x["seconds"] for x in runs)}


def single_save(n: int, repeat: int, work: Path) -> dict:
    import dataset_assets as da

    arrays = workloads.make_arrays(WORKLOAD, n)
    times, fingerprint = [], None
    for r in range(repeat):
        started = time.perf_counter()
        fingerprint = da.save(workloads.dataset(WORKLOAD, arrays), work / f"single-{r}", format="tfrecord").fingerprint
        times.append(time.perf_counter() - started)
        shutil.rmtree(work / f"single-{r}", ignore_errors=True)
    return {"runs": times, "best": min(times), "median": statistics.median(times), "fingerprint": fingerprint}


def markdown(result: dict) -> str:
    rows = ["| how | best of runs (s) | median (s) | commit (s) | speed-up |", "| --- | --- | --- | --- | --- |"]
    for pinned in (True, False):
        one = next(c for c in result["clusters"] if c["workers"] == 1 and c["pinned"] == pinned)
        for c in (x for x in result["clusters"] if x["pinned"] == pinned):
            what = f"{c['workers']} worker{'s' if c['workers'] > 1 else ''}, {'one CPU each' if pinned else 'unpinned'}"
            commit = statistics.median(r["commit_seconds"] for r in c["runs"])
            rows.append(f"| {what} | {c['best']:.2f} | {c['median']:.2f} | {commit:.2f} | {one['best'] / c['best']:.2f}x |")
    s = result["single"]
    rows.append(f"| one process, `dataset_assets.save` (no parts, no Dask) | {s['best']:.2f} | {s['median']:.2f} | – | – |")
    return (
        f"{result['n']:,} mixed elements to tfrecord in {result['parts']} parts, {result['repeat']} runs each, "
        f"{result['cpus']} CPUs, {result['when']}\n\n" + "\n".join(rows) + "\n"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/100 of the data: checks the benchmark runs, measures nothing")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results"))
    parser.add_argument("--elements", type=int, default=FULL_ELEMENTS, help="mixed elements written (default: %(default)s)")
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    n = max(args.elements // workloads.QUICK_DIVISOR, 10) if args.quick else args.elements
    work = Path(tempfile.mkdtemp(prefix="dataset-assets-scale-"))
    try:
        single = single_save(n, args.repeat, work)
        clusters = [run_cluster(w, pinned, n, args.parts, args.repeat, work) for pinned in (True, False) for w in (1, 2)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wrong = [c for c in clusters for r in c["runs"] if r["fingerprint"] != single["fingerprint"]]
    if wrong:
        raise SystemExit(f"a committed artifact's fingerprint differs from the single save's: {wrong[0]}")
    result = {
        "n": n, "parts": args.parts, "repeat": args.repeat, "cpus": len(os.sched_getaffinity(0)),
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "single": single, "clusters": clusters,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (args.out / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":  # run from the importable module, so the workers share its functions (and their module state)
    from benchmarks.scale import main as _main

    _main()
