"""Every Python and shell block of README.md and docs/*.md runs as written, so the docs cannot drift from the code.

The blocks of one file run in order, in one fresh folder, with the placeholders the docs name defined
first (README.md, after the command line): `dataset`, `ds`, `ds2` (datasets), `model` (a Keras model),
`artifacts/images`, `artifacts/numeric`, `image_train.yaml`, `numeric_train.yaml`, the buckets
`bucket` and `my-bucket` (a moto S3 server on 127.0.0.1) and `/fast/disk/artifacts` (the home's
artifacts). HOME is a fresh folder holding `~/.dataset_assets`, materialized first, so load_asset and
the CLI find what `dataset-assets materialize` writes. A shell line that another test or CI runs is
listed in ELSEWHERE with the test that runs it; the test checks that test exists.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.M | re.S)

# shell commands run by another test or by CI, not again here (each would take minutes or recurse)
ELSEWHERE = {
    "pip install": ".ci/run",
    "python3 -m venv": ".ci/run",
    "pytest -q": ".ci/run",
    "dataset-assets materialize": "dataset_assets_tests/defs/test_cli.py::test_materialize_command_end_to_end",
    "python -m benchmarks.run --quick": "dataset_assets_tests/test_benchmarks_quick.py::test_quick_run_writes_results",
    "python -m benchmarks.": "benchmarks/ (full-size runs take tens of minutes; `--quick` is the smoke run CI takes)",
}
# names a doc's excerpts take from the project they are cut from (docs/dagster.md: examples/daily_events,
# whose own test materializes it), defined before that doc's blocks
EXCERPT_CONTEXT = {
    "dagster.md": """
import os, sys
import pandas as pd
sys.path.insert(0, "{ROOT}/examples/daily_events")
from daily_events.resources import PROJECT, EventsFile
from daily_events.assets import assets, asset_checks
""",
}
MATERIALIZE = "+image_train_pipeline,+image_test_pipeline,+table_tfrecord,+numeric_npy,+image_npy"

PREAMBLE = """
import numpy as _np, shutil as _shutil, tensorflow as tf, keras as _keras
import dataset_assets as da
_rng = _np.random.default_rng(0)
dataset = tf.data.Dataset.from_tensor_slices({"image": _rng.integers(0, 256, (64, 8, 8, 1), dtype=_np.uint8), "label": _np.arange(64) % 10})
ds, ds2 = dataset, dataset.take(32)
da.save(dataset, "artifacts/images", format="pathlist")
da.save(tf.data.Dataset.from_tensor_slices({"features": _rng.normal(size=(64, 64)).astype(_np.float32), "target": _np.arange(64) % 10}), "artifacts/numeric", format="npy")
for _name in ("image_train.yaml", "numeric_train.yaml"):
    _shutil.copy(f"{ROOT}/data/recipes/{_name}", _name)
model = _keras.Sequential([_keras.Input((8, 8, 1)), _keras.layers.Flatten(), _keras.layers.Dense(10)])
model.compile("adam", _keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""


def blocks(doc: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(doc.read_text())]


def shell_lines(code: str) -> list[str]:
    lines = []
    for line in code.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def covered_elsewhere(line: str) -> str | None:
    for command in re.split(r"\s*&&\s*", line):
        if not any(command.startswith(p) for p in ELSEWHERE) and not command.startswith(". .venv/bin/activate"):
            return None
    return next(where for p, where in ELSEWHERE.items() if p in line)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """HOME with a materialized ~/.dataset_assets, an S3 server with the docs' buckets, and the environment for both."""
    from moto.server import ThreadedMotoServer

    home = tmp_path_factory.mktemp("home")
    (home / ".dataset_assets" / "dagster").mkdir(parents=True)
    (home / ".dataset_assets" / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATASET_ASSETS_HOME", "DAGSTER_HOME")}
    env.update(
        HOME=str(home), DAGSTER_HOME=str(home / ".dataset_assets" / "dagster"), AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    for bucket in ("bucket", "my-bucket"):
        s3.create_bucket(Bucket=bucket)
    done = subprocess.run(
        ["dagster", "asset", "materialize", "-m", "dataset_assets.definitions", "--select", MATERIALIZE],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield home, env
    server.stop()
    _PASSED.clear()


# shell lines that exited 0 in this module's world: a line that two docs give word for word (README.md and
# docs/dagster.md: `dagster dev ...`, `python examples/train_digits.py`) runs once, the second doc's test reuses
# that run (each takes 15-30 s); run alone, each doc's test still runs every line of its own
_PASSED: set[tuple[Path, str]] = set()  # (folder, line)


def test_every_doc_has_runnable_blocks_and_every_skipped_command_is_run_elsewhere():
    assert sum(len(blocks(d)) for d in DOCS) >= 15
    for where in set(ELSEWHERE.values()):
        path, _, name = where.partition("::")
        path = path.split(" ")[0]
        assert (ROOT / path).exists(), where
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(), where
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && pytest -q' in ci


def _python_script(doc: Path, home: Path) -> str:
    """The placeholders, then every Python block of `doc` in order, each announced by a `--- block N` line."""
    script = (PREAMBLE + EXCERPT_CONTEXT.get(doc.name, "")).replace("{ROOT}", str(ROOT))
    for i, block in enumerate(c for lang, c in blocks(doc) if lang == "python"):
        block = block.replace('"/fast/disk/artifacts"', repr(str(home / ".dataset_assets" / "artifacts")))
        script += f"\nprint('--- block {i + 1}', flush=True)\nexec(compile({block!r}, '{doc.name} python block {i + 1}', 'exec'))\n"
    return script


@pytest.fixture(scope="module")
def python_runs(world, request, tmp_path_factory):
    """Each doc's script in a fresh interpreter, in a fresh folder of its own, two at a time: each imports TensorFlow
    and Keras (15-30 s, mostly one core), so two side by side take about half the time. All start with the first
    of these tests (only the docs selected in this session); each test waits for its own doc's run."""
    home, env = world
    selected = {item.callspec.params["doc"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_python_blocks_run" and hasattr(item, "callspec")}
    pool = ThreadPoolExecutor(2)
    runs = {}
    for doc in DOCS:
        if doc in selected:
            folder = tmp_path_factory.mktemp(f"python-{doc.stem}")
            (folder / "data").symlink_to(ROOT / "data")
            command = [sys.executable, "-c", _python_script(doc, home)]
            runs[doc] = pool.submit(subprocess.run, command, env=env, cwd=folder, capture_output=True, text=True, timeout=600)
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("doc", [d for d in DOCS if any(lang == "python" for lang, _ in blocks(d))], ids=lambda d: d.name)
def test_python_blocks_run(doc, python_runs):
    code = [c for lang, c in blocks(doc) if lang == "python"]
    proc = python_runs[doc].result()
    assert proc.returncode == 0, f"{doc.name}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert proc.stdout.count("--- block") == len(code)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_shell_blocks_run(doc, world):
    home, env = world
    serving = []  # `dagster dev` lines: started, then the next lines run while the webserver boots (15-30 s)
    try:
        for lang, code in blocks(doc):
            if lang != "bash":
                continue
            cwd = ROOT  # a block is pasted into one shell: its `cd` holds for the lines after it
            for line in shell_lines(code):
                words = shlex.split(line)
                if words[0] == "cd" and len(words) == 2:
                    cwd = (cwd / words[1]).resolve()
                    assert cwd.is_dir(), f"{doc.name}: `{line}`: there is no folder {cwd}"
                    continue
                if covered_elsewhere(line) or (cwd, line) in _PASSED:
                    continue
                if "dagster" in words and "dev" in words:
                    _answered(serving)  # one `dagster dev` at a time on the instance
                    serving.append(_Served(line, env, cwd))
                    continue
                proc = subprocess.run(line, shell=True, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
                assert proc.returncode == 0, f"{doc.name}: `{line}` (in {cwd}) exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
                _PASSED.add((cwd, line))
        _answered(serving)
    finally:
        for served in serving:
            served.stop()


def _answered(serving: list) -> None:
    """Each `dagster dev` started must have answered; then it is stopped."""
    while serving:
        served = serving.pop(0)
        try:
            served.wait_until_it_answers()
        finally:
            served.stop()
        _PASSED.add((served.cwd, served.line))


class _Served:
    """`dagster dev ...` as written, on a free port of 127.0.0.1: it must answer (`wait_until_it_answers`), then it is stopped."""

    def __init__(self, line: str, env: dict, cwd: Path = ROOT):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.line, self.cwd, self.started = line, cwd, time.monotonic()
        self.proc = subprocess.Popen(f"{line} -h 127.0.0.1 -p {self.port}", shell=True, env=env, cwd=cwd, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_until_it_answers(self) -> None:
        import urllib.request

        deadline = self.started + 240
        while True:
            assert self.proc.poll() is None, f"`{self.line}` exited {self.proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2) as r:
                    assert r.status == 200
                    return
            except OSError:
                assert time.monotonic() < deadline, f"`{self.line}` did not answer within 240 s"
                time.sleep(1)

    def stop(self) -> None:
        """SIGINT to its process group, as Ctrl-C in the terminal would, then SIGKILL to what is left of the group.
        (SIGTERM ended the shell at once and left `dagster dev`, its webserver and daemon running: the 60 s wait for
        them failed the test twice in a run on 2 busy cores, and they stayed behind.) Stopping is cleanup, not what
        the docs claim."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # webserver, daemon, code servers, if any is left
        self.proc.wait(60)
