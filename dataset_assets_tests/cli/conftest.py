"""Artifacts for the CLI tests, and `run`: the installed `dataset-assets` command in a real subprocess."""

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
def npy_artifact(home) -> Path:
    path = home / "artifacts" / "digits"
    da.save(images(), path, format="npy")
    return path
