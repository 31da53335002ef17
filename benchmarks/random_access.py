"""Random access: single-element reads per second, and a globally shuffled epoch against a sequential one.

    python -m benchmarks.random_access [--quick] [--out DIR] [--work DIR] [--reads N] [--warmup N]

1. **Single reads**: per workload the data is written once by the suite's own writers (one child
   process each, as in benchmarks.run); then each reader runs in a fresh child: it opens the
   data, reads `--warmup` random elements (which also checks one against the source), and the
   clock times `--reads` more, each decoded to NumPy as a user would need it. Indices come from
   NumPy's default_rng(0) over the whole dataset, the same for every reader.
2. **Shuffled epoch** (npy): `da.load(path, shuffle_seed=0)` and `da.load(path)`, batched and
   iterated to the end, alternating, each run a fresh child; the ratio of the minimum times.

Ours (`dataset_assets.open`, `load(shuffle_seed=)`) is reported "not available" while the library
has neither. Writes DIR/random_access.json and DIR/random_access.md and prints the tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import measure, report, workloads
from .methods import BY_NAME, format_available, peer_missing

WARMUP, READS = 200, 2000
OURS = ("npy", "hdf5", "pathlist", "tfrecord")
# reader -> (library, the method whose files it reads, how it reads one element)
READERS = {
    "array_record[i]": ("array_record", "array_record", "ArrayRecordDataSource(file)[i], decoded (raw row: np.frombuffer; mixed: Example.FromString)"),
    "array_record.read([i])": ("array_record", "array_record", "ArrayRecordReader(file, 'readahead_buffer_size:0,max_parallelism:0').read([i]), decoded"),
    "hf[i]": ("datasets", "hf_datasets", "load_from_disk(path)[i]: Python lists and scalars"),
    "hf.with_format('numpy')[i]": ("datasets", "hf_datasets", "load_from_disk(path).with_format('numpy')[i]"),
    **{f"da.open({f})[i]": ("dataset_assets", f, f"art = dataset_assets.open(path); art[i] ({f})") for f in OURS},
}


# --- child side ----------------------------------------------------------------------------------

def _expected(arrays: dict, workload: str, i: int) -> dict:
    """Element i of the source, in the element's structure."""
    if workload != "mixed":
        return {k: v[i] for k, v in arrays.items()}
    ends = arrays["tokens_lengths"].cumsum()
    tokens = arrays["tokens_values"][ends[i] - arrays["tokens_lengths"][i] : ends[i]]
    return {"vec": arrays["vec"][i], "id": arrays["id"][i], "tokens": tokens, "name": arrays["name"][i]}


def _same(got: dict, want: dict) -> bool:
    import numpy as np

    def plain(v):  # da.open gives ragged leaves as tf.RaggedTensor
        return v.numpy() if hasattr(v, "numpy") else np.asarray(v)

    return set(got) == set(want) and all(np.array_equal(plain(got[k]), np.asarray(want[k])) for k in want)


def _one_reader(reader: str, path: Path, workload: str):
    """A function i -> element i as NumPy (or None with the reason it cannot be measured)."""
    if reader.startswith("array_record"):
        from array_record.python.array_record_data_source import ArrayRecordDataSource
        from array_record.python.array_record_module import ArrayRecordReader

        from . import peers

        file = str(path / peers.ARRAY_RECORD_FILE)
        decode = peers.example_numpy if workload == "mixed" else lambda r: {k: v[0] for k, v in peers.decode_rows([r], workload).items()}
        if reader == "array_record[i]":
            source = ArrayRecordDataSource(file)
            return lambda i: decode(source[i]), None
        direct = ArrayRecordReader(file, "readahead_buffer_size:0,max_parallelism:0")
        return lambda i: decode(direct.read([i])[0]), None
    if reader.startswith("hf"):
        import datasets

        table = datasets.load_from_disk(str(path))
        table = table.with_format("numpy") if "numpy" in reader else table
        return table.__getitem__, None
    import dataset_assets as da

    if not hasattr(da, "open"):
        return None, "not available: dataset_assets has no open() yet"
    try:
        art = da.open(path)
    except da.ArtifactError as e:  # a format without random access says so
        return None, f"not available: {e}"
    return art.__getitem__, None


def prepare_read(task: dict):
    """Open the reader, warm it up (checking one element against the source); the timed part is `reads` reads."""
    import numpy as np

    wl, n = task["workload"], task["n"]
    read, unavailable = _one_reader(task["reader"], Path(task["path"]), wl)
    if unavailable:
        return lambda: {"unavailable": unavailable}
    indices = [int(i) for i in np.random.default_rng(0).integers(0, n, task["warmup"] + task["reads"])]
    warm, timed = indices[: task["warmup"]], indices[task["warmup"] :]
    first = read(warm[0])
    if not _same(dict(first), _expected(workloads.make_arrays(wl, n), wl, warm[0])):
        return lambda: {"unavailable": f"wrong values: element {warm[0]} differs from the source"}
    for i in warm:
        read(i)

    def timed_reads():
        for i in timed:
            read(i)
        return {"reads": len(timed)}

    return timed_reads


def prepare_epoch(task: dict):
    """load() (shuffled with shuffle_seed=0, or not) batched; the timed part iterates it to the end."""
    import inspect

    import dataset_assets as da

    shuffled = task["shuffled"]
    if shuffled and "shuffle_seed" not in inspect.signature(da.load).parameters:
        return lambda: {"unavailable": "not available: dataset_assets.load has no shuffle_seed yet"}
    ds = (da.load(task["path"], shuffle_seed=0) if shuffled else da.load(task["path"])).batch(workloads.BATCH)
    return lambda: {"elements": measure.iterate(ds)}


def prepare(task: dict):
    return prepare_read(task) if task["op"] == "random_read" else prepare_epoch(task)


# --- parent side ---------------------------------------------------------------------------------

def _write(method: str, wl: str, n: int, wdir: Path, timeout: float) -> str | None:
    """Write the workload with one of the suite's methods (a child process); the reason it could not, or None."""
    m = BY_NAME[method]
    if m.kind == "ours" and not format_available(method):
        return "not available: format not in dataset_assets/formats yet"
    if m.kind == "peer" and peer_missing(m):
        return f"not available: {peer_missing(m)} not installed"
    result = measure.run({"op": "write", "workload": wl, "n": n, "method": method, "path": str(wdir / method), "patch": None}, timeout)
    return f"write failed: {result['error']}" if "error" in result else None


def _result(r: dict) -> dict:
    if "error" in r or "unavailable" in r:
        return {"error": r.get("error") or r["unavailable"]}
    return {"reads_per_s": round(r["reads"] / r["seconds"], 1), "us_per_read": round(1e6 * r["seconds"] / r["reads"], 1), "seconds": r["seconds"]}


def single_reads(args, wl: str, n: int, wdir: Path) -> list[dict]:
    written: dict[str, str | None] = {}
    rows = []
    for reader, (library, method, how) in READERS.items():
        if wl not in BY_NAME[method].workloads:
            continue
        if method not in written:
            print(f"[{time.strftime('%H:%M:%S')}] {wl}: write {method}", flush=True)
            written[method] = _write(method, wl, n, wdir, args.timeout)
        row = {"workload": wl, "n": n, "reader": reader, "library": library, "how": how}
        if written[method]:
            row["error"] = written[method]
        else:
            print(f"[{time.strftime('%H:%M:%S')}] {wl}: {reader}", flush=True)
            task = {"op": "random_read", "reader": reader, "workload": wl, "n": n, "path": str(wdir / method),
                    "warmup": args.warmup, "reads": args.reads}
            row.update(_result(measure.run(task, args.timeout)))
        rows.append(row)
    return rows


def shuffled_epoch(args, wl: str, n: int, wdir: Path) -> dict:
    """Sequential and shuffled epochs over the npy files single_reads wrote, alternating; min of `repeat` each."""
    row = {"workload": wl, "n": n}
    if not (wdir / "npy").exists():
        return {**row, "error": "not available: npy not written"}
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeat):
        for shuffled in (False, True):
            if "shuffled_error" in row and shuffled:
                continue  # not available (or failed) once: the next runs would say the same
            r = measure.run({"op": "random_epoch", "shuffled": shuffled, "path": str(wdir / "npy")}, args.timeout)
            if "error" in r or "unavailable" in r or r.get("elements") != n:
                key = "shuffled_error" if shuffled else "sequential_error"
                row[key] = r.get("error") or r.get("unavailable") or f"iterated {r.get('elements')} elements, expected {n}"
                continue
            times[shuffled].append(r["seconds"])
    for shuffled, key in ((False, "sequential_s"), (True, "shuffled_s")):
        if times[shuffled]:
            row[key] = min(times[shuffled])
    if row.get("sequential_s") and row.get("shuffled_s"):
        row["ratio"] = round(row["shuffled_s"] / row["sequential_s"], 3)
    return row


# --- report --------------------------------------------------------------------------------------

def markdown(results: dict) -> str:
    lines = [report.header(results), "", f"## Single-element reads ({results['meta']['reads']:,} random reads after {results['meta']['warmup']} warm-up)",
             "| workload | n | reader | library | reads/s | µs/read | how |", "|---|---|---|---|---|---|---|"]
    for r in results["random"]:
        speed = (r["error"], "–") if r.get("error") else (f"{r['reads_per_s']:,.0f}", f"{r['us_per_read']:,.1f}")
        name = f"**{r['reader']}**" if r["library"] == "dataset_assets" else r["reader"]
        lines.append(f"| {r['workload']} | {r['n']:,} | {name} | {r['library']} | {speed[0]} | {speed[1]} | {r['how']} |")
    lines += ["", "## Globally shuffled epoch over npy (`da.load(path, shuffle_seed=0)` vs `da.load(path)`, batched)",
              "| workload | n | sequential s | shuffled s | shuffled / sequential |", "|---|---|---|---|---|"]
    for r in results["shuffle"]:
        def cell(key):
            return (r.get(key.replace("_s", "_error")) or r.get("error") or "–") if r.get(key) is None else f"{r[key]:.3g}"

        lines.append(f"| {r['workload']} | {r['n']:,} | {cell('sequential_s')} | {cell('shuffled_s')} | "
                     f"{'–' if r.get('ratio') is None else format(r['ratio'], '.2f') + 'x'} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.random_access", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1/100 of the full sizes (as benchmarks.run --quick)")
    p.add_argument("--out", default="benchmark-results", help="where random_access.json/.md go")
    p.add_argument("--work", default=None, help="scratch directory for the data written (default: a new temporary one)")
    p.add_argument("--reads", type=int, default=READS)
    p.add_argument("--warmup", type=int, default=WARMUP)
    p.add_argument("--repeat", type=int, default=None, help="runs of each epoch, min taken (default 3, quick 1)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a measurement process is killed")
    p.add_argument("--workloads", default=",".join(workloads.WORKLOADS))
    from .run import settle_args

    return settle_args(p, p.parse_args(argv))


def main(argv=None) -> int:
    from .run import _machine, _versions

    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "repeat": args.repeat, "reads": args.reads,
            "warmup": args.warmup, "workloads": args.workloads, "descriptions": workloads.DESCRIPTIONS, "machine": _machine(),
            "versions": _versions(), "sizes": {w: workloads.size(w, args.quick) for w in workloads.WORKLOADS},
            "command": " ".join(["python -m benchmarks.random_access", *(argv if argv is not None else sys.argv[1:])])}
    results = {"meta": meta, "random": [], "shuffle": []}
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dataset-assets-random-"))
    try:
        for wl in args.workloads:
            n, wdir = workloads.size(wl, args.quick), work / wl
            shutil.rmtree(wdir, ignore_errors=True)
            wdir.mkdir(parents=True)
            results["random"] += single_reads(args, wl, n, wdir)
            print(f"[{time.strftime('%H:%M:%S')}] {wl}: shuffled epoch", flush=True)
            results["shuffle"].append(shuffled_epoch(args, wl, n, wdir))
            shutil.rmtree(wdir, ignore_errors=True)
            (out / "random_access.json").write_text(json.dumps(results, indent=1))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(results)
    (out / "random_access.md").write_text(text)
    print(text)
    print(f"wrote {out / 'random_access.json'}, {out / 'random_access.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
