"""Saved artifacts to attack, in every format, and a way to run what could crash or hang in a child process."""

import subprocess
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.children import run_code


def images(n: int = 20, seed: int = 0) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    return tf.data.Dataset.from_tensor_slices({"image": rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8), "label": np.arange(n)})


@pytest.fixture(params=da.FORMATS)
def fmt(request):
    return request.param


@pytest.fixture
def artifact(fmt, tmp_path):
    """(artifact path, format) of a small saved artifact."""
    path = tmp_path / "art"
    da.save(images(), path, format=fmt)
    return path, fmt


def run_child(code: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `code` in a child process; a crash shows as a negative return code, a hang as TimeoutExpired.

    The child is forked from a server with TensorFlow already imported (dataset_assets_tests/children.py), not
    a fresh interpreter: what these tests need from it is a process of its own that may crash or hang.
    """
    return run_code(textwrap.dedent(code), timeout, {"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


def assert_clean_exit(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"child exited with {proc.returncode} (negative: killed by a signal)\n{proc.stdout}\n{proc.stderr[-3000:]}"
