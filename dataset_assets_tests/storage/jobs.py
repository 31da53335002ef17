"""Writers in other processes.

Importing TensorFlow costs ~8 CPU-seconds, so a fresh interpreter per writer would blow the time budget of
this folder. `Workers` therefore runs each job in a child of a multiprocessing *fork server* that has
TensorFlow, dataset_assets and this module preloaded: every job is its own process (own pid, own memory,
SIGKILL-able), started in milliseconds. `run_fresh` runs a job in a brand-new `sys.executable -c`
interpreter, for the tests that want no shared state at all.

A job reports through files: `<result>.json` ({"ok": true, "result": ...} or {"ok": false, "error": traceback})
and `<result>.log` (its stdout and stderr).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PRELOAD = ["dataset_assets", "numpy", "tensorflow", "fsspec", "s3fs", "dataset_assets_tests.storage.util", __name__, "dataset_assets_tests.children"]  # dataset_assets first: it loads TensorFlow quietly


# --- in the child ------------------------------------------------------------------------------------


def save_images(path, fmt, seed, n=40, size=8, delay=0.0, overwrite=True, keep=None, start_at=None, **format_options):
    """Save `images(seed, n, size)` (slowly, `delay` s per element, when delay > 0) to `path`, with `format_options`."""
    import dataset_assets as da

    from dataset_assets_tests.storage.util import images, slow_images

    dataset = slow_images(seed, n, size, delay) if delay else images(seed, n, size)
    if start_at is not None:  # several writers start together
        time.sleep(max(0.0, start_at - time.time()))
    extra = {} if keep is None else {"keep": keep}
    manifest = da.save(dataset, path, format=fmt, overwrite=overwrite, **extra, **format_options)
    return {"version": manifest.version, "fingerprint": manifest.fingerprint, "num_elements": manifest.num_elements}


def save_part(path, seed, part, num_parts, n=40, size=8, delay=0.0, overwrite=True, start_at=None, **format_options):
    """Save `images(seed, n, size)` (slowly with `delay`) as part `part` of `num_parts` of the next version at `path`."""
    import dataset_assets as da

    from dataset_assets_tests.storage.util import images, slow_images

    dataset = slow_images(seed, n, size, delay) if delay else images(seed, n, size)
    if start_at is not None:  # several writers start together
        time.sleep(max(0.0, start_at - time.time()))
    manifest = da.save_part(dataset, path, part=part, num_parts=num_parts, overwrite=overwrite, **format_options)
    return {"version": manifest.version, "fingerprint": manifest.fingerprint, "num_elements": manifest.num_elements}


JOBS = {"save_images": save_images, "save_part": save_part}


def _entry(name: str, kwargs: dict, env: dict, result: str) -> None:
    log = os.open(result + ".log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(env)
    try:
        doc = {"ok": True, "result": JOBS[name](**kwargs)}
        code = 0
    except BaseException:  # noqa: BLE001 - reported to the test
        doc = {"ok": False, "error": traceback.format_exc()}
        code = 1
    tmp = result + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, result)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown of TensorFlow's threads


# --- in the test process ------------------------------------------------------------------------------


def _report(result: Path, what: str, exitcode) -> dict:
    log = Path(str(result) + ".log")
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else "<no log>"
    if not result.exists():
        raise AssertionError(f"{what} exited with {exitcode} without a result; its output:\n{tail}")
    doc = json.loads(result.read_text())
    if not doc["ok"]:
        raise AssertionError(f"{what} failed (exit {exitcode}):\n{doc['error']}\nits output:\n{tail}")
    return doc["result"]


class Child:
    def __init__(self, process, result: Path, what: str):
        self.process, self.result, self.what = process, result, what

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def wait(self, timeout: float = 120) -> dict:
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            raise AssertionError(f"{self.what} did not finish within {timeout} s")
        return _report(self.result, self.what, self.process.exitcode)

    def kill(self) -> int:
        """SIGKILL, then reap; returns the exit code (-9)."""
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(30)
        return self.process.exitcode


class Workers:
    def __init__(self, ctx, directory: Path, env: dict):
        self.ctx, self.directory, self.env = ctx, directory, env

    def start(self, name: str, env: dict | None = None, **kwargs) -> Child:
        result = self.directory / f"{name}-{uuid.uuid4().hex[:8]}.json"
        process = self.ctx.Process(target=_entry, args=(name, kwargs, {**self.env, **(env or {})}, str(result)), daemon=True)
        process.start()
        return Child(process, result, f"job {name}({kwargs})")

    def run(self, name: str, env: dict | None = None, timeout: float = 120, **kwargs) -> dict:
        return self.start(name, env, **kwargs).wait(timeout)


_FRESH = """
import json, os, sys, time
parent, go = int(sys.argv[1]), sys.argv[2]
import dataset_assets, tensorflow  # the expensive imports happen before the job is known
from dataset_assets_tests.storage.jobs import _entry
while not os.path.exists(go):  # no deadline: the test may come late in a long session; a dead parent ends it
    if os.getppid() != parent:
        sys.exit(3)
    time.sleep(0.02)
with open(go) as f:
    name, kwargs, env, result = json.load(f)
_entry(name, kwargs, env, result)
"""


class FreshWriter:
    """One job in a brand-new interpreter (`sys.executable -c`), sharing nothing with the test process.

    It is started early (its TensorFlow import overlaps other tests), then waits for `run` to hand it a job.
    """

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.go = directory / "go.json"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        self.log = open(directory / "startup.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _FRESH, str(os.getpid()), str(self.go)], env=env, cwd=str(directory), stdout=self.log, stderr=self.log
        )

    def run(self, name: str, env: dict, timeout: float = 180, **kwargs) -> dict:
        result = self.directory / f"{name}.json"
        tmp = self.go.with_suffix(".tmp")
        tmp.write_text(json.dumps([name, kwargs, env, str(result)]))
        os.replace(tmp, self.go)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"the fresh interpreter did not finish {name}({kwargs}) within {timeout} s") from None
        if not result.exists():
            startup = (self.directory / "startup.log").read_text(errors="replace")[-4000:]
            raise AssertionError(f"the fresh interpreter exited with {code} before running {name}:\n{startup}")
        return _report(result, f"fresh interpreter {name}({kwargs})", code)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.log.close()
