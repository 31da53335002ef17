"""The benchmark suite runs end to end at its --quick size and writes its JSON, Markdown and PNG.

No timing is asserted: benchmarks are measured, not tested. To stay fast the run is
limited to one workload and the methods one read-target ratio needs (each measurement
is a fresh process importing TensorFlow).
"""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quick_run_writes_results(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "benchmarks.run", "--quick", "--workloads", "numeric", "--methods", "npy,in_memory",
           "--out", str(out), "--work", str(tmp_path / "work")]
    proc = subprocess.run(cmd, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    rows = {r["method"]: r for r in results["rows"]}
    assert set(rows) == {"npy", "in_memory"}
    n = results["meta"]["sizes"]["numeric"]
    assert n == 10_000
    for method in ("npy", "in_memory"):
        assert "error" not in rows[method] and "error" not in rows[method]["read"], rows[method]
        assert rows[method]["read"]["elements"] == n
        assert rows[method]["read"]["seconds"] > 0 and rows[method]["read"]["peak_rss"] > 0
    assert rows["npy"]["write"]["seconds"] > 0 and rows["npy"]["disk_bytes"] >= n * (64 * 4 + 8)

    assert (out / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "results.md").read_text()
    assert "read: npy >= 0.8x in-memory" in md and "| numeric | **npy** |" in md
    assert "read: npy >= 0.8x in-memory" in proc.stdout


def test_tfdata_save_against_tf_reports_every_workload(tmp_path):
    cmd = [sys.executable, "-m", "benchmarks.tfdata_save", "--quick", "--repeat", "1"]
    proc = subprocess.run(cmd, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(tmp_path)}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["numeric", "images", "mixed"], proc.stdout
    for line in lines:
        theirs, ours, ratio = (float(x) for x in re.findall(r"([0-9.]+) s, da.save ([0-9.]+) s, ([0-9.]+)x", line)[0])
        assert theirs > 0 and ours > 0 and abs(ratio - theirs / ours) < 0.1 * ratio + 0.01, line
    assert not list(tmp_path.iterdir()), "the saves were left behind"
