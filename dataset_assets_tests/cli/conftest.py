"""Artifacts for the CLI tests; `run`: the installed `dataset-assets` command in a real subprocess; `cli`: the same
command line through `dataset_assets.cli.main` in this process.

A subprocess costs a fresh interpreter importing TensorFlow (10-20 s on 2 busy cores). What depends on the process
boundary (the exit status the installed script gives the shell, TensorFlow's C++ lines on stderr while it loads) is
asserted through `run`, at least once per subcommand; what a command computes and prints is asserted through `cli`,
which runs the same argument parsing and the same `main`, with the same environment and working folder.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da

COMMAND = Path(sys.executable).with_name("dataset-assets")


def images(n: int = 60, seed: int = 0) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    return tf.data.Dataset.from_tensor_slices(
        {"image": rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8), "label": np.arange(n, dtype=np.int64) % 3}
    )


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "artifacts").mkdir()
    return tmp_path


@pytest.fixture
def run(home):
    """Run `dataset-assets ARGS` with the home at `home`, TensorFlow's log level as a user has it (unset)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATASET_ASSETS_PROGRESS")}
    env["DATASET_ASSETS_HOME"] = str(home)

    def run(*args: str) -> Result:
        return Result(subprocess.run([str(COMMAND), *args], env=env, cwd=home, capture_output=True, text=True, timeout=300))

    return run


@pytest.fixture
def cli(home, capsys):
    """`dataset-assets ARGS` as `run` does it, in-process: `main(ARGS)`'s return value (or argparse's exit status) and
    what it printed. Environment, working folder and the `dataset_assets` logger are restored afterwards."""
    from dataset_assets import cli as command
    from dataset_assets.progress import log as progress_log

    def cli(*args: str) -> Result:
        saved_env = dict(os.environ)
        saved_log = (list(progress_log.handlers), progress_log.level, progress_log.propagate)
        for name in ("TF_CPP_MIN_LOG_LEVEL", "DATASET_ASSETS_PROGRESS"):
            os.environ.pop(name, None)
        os.environ["DATASET_ASSETS_HOME"] = str(home)
        cwd = os.getcwd()
        os.chdir(home)
        capsys.readouterr()  # only this command's output
        try:
            try:
                code = command.main(list(args))
            except SystemExit as e:  # argparse: --help (0) and usage errors (2)
                code = e.code if isinstance(e.code, int) else 1
            out, err = capsys.readouterr()
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(cwd)
            progress_log.handlers[:] = saved_log[0]
            progress_log.setLevel(saved_log[1])
            progress_log.propagate = saved_log[2]
        return Result(subprocess.CompletedProcess(args, code, out, err))

    return cli


@pytest.fixture
def npy_artifact(home) -> Path:
    path = home / "artifacts" / "digits"
    da.save(images(), path, format="npy")
    return path
