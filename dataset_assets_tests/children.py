"""Run test code that could crash or hang in a child process, without a fresh interpreter per child.

A fresh `python -c` imports TensorFlow again, 5-15 s per child on 2 busy cores. `run_code` starts each child
from the multiprocessing fork server the storage tests' writers come from (storage/jobs.py): TensorFlow and
dataset_assets are already imported there, nothing else has run. Each child is still a process of its own
(own pid, own memory, killed at the time limit): a crash shows as a negative exit status (the signal), a hang
as `subprocess.TimeoutExpired`, and its stdout and stderr (file descriptors 1 and 2, so libraries' C output
too) come back as a `subprocess.CompletedProcess`, as from `subprocess.run`.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from dataset_assets_tests.storage.jobs import PRELOAD


def _context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # one server per test process: the same list as the storage tests give it
    return ctx


def _child(code: str, env: dict, out: str, err: str) -> None:
    """In the child: run `code` as `python -c` would (a module named __main__), then exit without teardown."""
    for fd, name in ((1, out), (2, err)):
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    os.environ.update(env)
    sys.argv = ["-c"]
    status = 0
    try:
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as e:  # as the interpreter does: sys.exit("message") prints it and exits 1
        if e.code is None or isinstance(e.code, int):
            status = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            status = 1
    except BaseException:  # noqa: BLE001 - an uncaught exception: its traceback, exit status 1
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_code(code: str, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="dataset-assets-child-") as folder:
        out, err = str(Path(folder) / "stdout"), str(Path(folder) / "stderr")
        process = _context().Process(target=_child, args=(code, dict(env or {}), out, err), daemon=True)
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(30)
            raise subprocess.TimeoutExpired(["child", "-c", code], timeout, Path(out).read_bytes(), Path(err).read_bytes())
        read = lambda name: Path(name).read_text(errors="replace") if Path(name).exists() else ""  # noqa: E731
        return subprocess.CompletedProcess(["child", "-c", code], process.exitcode, read(out), read(err))
