"""Storage benchmarks: checked against unchecked reads, and loading from S3 against a plain s3fs download.

    python -m benchmarks.storage [--quick] [--remote-gib G] [--only checked|s3|remote ...]

1. **Checked reads**: load + iterate the numeric workload from npy and hdf5 with `checked=True`
   and `checked=False`, alternating, in one process; the cost of checking is the ratio of the
   minimum times (goal: at most 1.10).
2. **S3 throughput**: a moto S3 server (its own process, on 127.0.0.1) holds a numeric tfrecord
   artifact in several shards; in one process, alternating, we time a plain parallel `s3fs`
   download of the same files (`fs.get`, the transport's ceiling), our fetch of the version into
   the cache (download + every block checked: `open_artifact`), and `load` + iterate with a cold
   cache (streaming: reading starts with the first shard) and a warm one (nothing downloaded).
   Goal: the fetch at least 0.8x the download's throughput.
3. **Remote memory** (`--remote-gib`, default 4; 0 skips): a lazily generated tfrecord artifact
   of that size (64 MiB shards) saved to the server, then loaded + iterated in a fresh process under a cache bound; peak
   RSS of that process (goal < 1 GB) and the cache's size on disk (goal: within the bound).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import workloads

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, dict]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, env
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the moto server did not start")


def _drain(ds) -> int:
    n = 0
    for _ in ds.batch(workloads.BATCH):
        n += 1
    return n


def checked_reads(quick: bool, repeat: int = 3) -> dict:
    import dataset_assets as da

    arrays = workloads.make_arrays("numeric", workloads.size("numeric", quick))
    source = workloads.dataset("numeric", arrays)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("npy", "hdf5"):
            path = Path(tmp) / fmt
            da.save(source, path, format=fmt)
            times = {True: [], False: []}
            for _ in range(repeat):
                for checked in (False, True):
                    t = time.perf_counter()
                    _drain(da.load(path, checked=checked))
                    times[checked].append(time.perf_counter() - t)
            out[fmt] = {"unchecked_s": round(min(times[False]), 3), "checked_s": round(min(times[True]), 3),
                        "ratio": round(min(times[True]) / min(times[False]), 3)}
    return out


def s3_throughput(quick: bool, env: dict, repeat: int = 3) -> dict:
    """Plain download, our fetch (download + checks into the cache), and load + iterate, cold and warm."""
    os.environ.update(env)
    import s3fs

    import dataset_assets as da
    from dataset_assets.api import open_artifact

    arrays = workloads.make_arrays("numeric", workloads.size("numeric", quick))
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("bench")
    url = "s3://bench/numeric_tfrecord"
    shard = max(workloads.nbytes(arrays) // 8, 1 << 20)
    manifest = da.save(workloads.dataset("numeric", arrays), url, format="tfrecord", shard_bytes=shard)
    files = [f"bench/numeric_tfrecord/versions/{manifest.version}/{f.path}" for f in manifest.files]
    total = sum(f.bytes for f in manifest.files)
    out = {"files": len(files), "megabytes": round(total / 1e6, 1)}
    times: dict[str, list[float]] = {"s3fs_get_s": [], "fetch_cold_s": [], "load_iterate_cold_s": [], "load_iterate_warm_s": []}

    def timed(key, fn):
        t = time.perf_counter()
        fn()
        times[key].append(time.perf_counter() - t)

    for _ in range(repeat):  # alternating, so that the machine's drift hits every measurement alike
        with tempfile.TemporaryDirectory() as tmp:
            timed("s3fs_get_s", lambda: fs.get(files, [os.path.join(tmp, str(i)) for i in range(len(files))], batch_size=16))
            os.environ["DATASET_ASSETS_CACHE"] = os.path.join(tmp, "fetch")
            timed("fetch_cold_s", lambda: open_artifact(url))
            os.environ["DATASET_ASSETS_CACHE"] = os.path.join(tmp, "load")
            timed("load_iterate_cold_s", lambda: _drain(da.load(url)))
            timed("load_iterate_warm_s", lambda: _drain(da.load(url)))
    out.update({k: round(min(v), 3) for k, v in times.items()})
    out["fetch_vs_get"] = round(out["s3fs_get_s"] / out["fetch_cold_s"], 3)  # goal >= 0.8
    # < 1: iterating overlapped the download (reading starts with the first shard)
    out["cold_vs_get_plus_warm"] = round(out["load_iterate_cold_s"] / (out["s3fs_get_s"] + out["load_iterate_warm_s"]), 3)
    return out


_REMOTE_CHILD = """
import json, sys, time
import dataset_assets as da
from benchmarks.measure import _status_kb  # VmHWM, of this exec only: ru_maxrss keeps the parent's peak across exec
t = time.perf_counter(); n = 0
for _ in da.load(sys.argv[1]).batch(64):
    n += 1
print("RESULT " + json.dumps({"seconds": time.perf_counter() - t, "peak_rss": _status_kb("VmHWM") * 1024, "batches": n}))
"""


def remote_memory(gib: float, env: dict) -> dict:
    """A lazily generated tfrecord artifact of `gib` GiB in 64 MiB shards (moto answers a GET with the whole
    object in its own memory, so one 4 GiB file would measure moto), loaded + iterated in a fresh process."""
    import s3fs

    import dataset_assets as da
    from benchmarks.memory import VECTOR, lazy_dataset

    os.environ.update(env)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("memory")
    n = int(gib * (1 << 30)) // (VECTOR * 4 + 8)
    url = "s3://memory/lazy_tfrecord"
    t = time.perf_counter()
    manifest = da.save(lazy_dataset("tfrecord", n), url, format="tfrecord", shard_bytes=64 << 20)
    saved = time.perf_counter() - t
    bound = int(manifest.total_bytes * 1.25)
    with tempfile.TemporaryDirectory() as tmp:
        child_env = {**os.environ, **env, "DATASET_ASSETS_CACHE": tmp, "DATASET_ASSETS_CACHE_BYTES": str(bound), "TF_CPP_MIN_LOG_LEVEL": "2",
                     "PYTHONPATH": str(REPO)}
        proc = subprocess.run([sys.executable, "-c", _REMOTE_CHILD, url], capture_output=True, text=True, env=child_env, cwd=REPO)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            return {"error": proc.stderr[-2000:]}
        result = json.loads(line[7:])
        cache = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file() and "blobs" in p.parts)
    return {"gigabytes": round(manifest.total_bytes / 1e9, 2), "files": len(manifest.files), "save_s": round(saved, 1),
            "load_iterate_s": round(result["seconds"], 1), "peak_rss_gb": round(result["peak_rss"] / 1e9, 3),
            "cache_gb": round(cache / 1e9, 2), "cache_bound_gb": round(bound / 1e9, 2)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/100 of the workload sizes")
    parser.add_argument("--remote-gib", type=float, default=4.0, help="size of the remote memory workload (0: skip)")
    parser.add_argument("--only", choices=["checked", "s3", "remote"], action="append", help="run only these parts (repeatable)")
    args = parser.parse_args(argv)
    parts = set(args.only or ["checked", "s3", "remote"])
    if args.remote_gib <= 0:
        parts.discard("remote")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = {}
    if "checked" in parts:
        results["checked_reads"] = checked_reads(args.quick)
        print(json.dumps(results, indent=2), flush=True)
    if parts & {"s3", "remote"}:
        server, env = start_moto()
        try:
            if "s3" in parts:
                results["s3_throughput"] = s3_throughput(args.quick, env)
                print(json.dumps(results["s3_throughput"], indent=2), flush=True)
            if "remote" in parts:
                results["remote_memory"] = remote_memory(args.remote_gib / (100 if args.quick else 1), env)
                print(json.dumps(results["remote_memory"], indent=2), flush=True)
        finally:
            server.kill()
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main()
