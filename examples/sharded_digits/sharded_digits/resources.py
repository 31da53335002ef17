"""Where the artifact goes, and which Dagster executor runs the steps."""

import os
from pathlib import Path

import dagster as dg

from dataset_assets.dagster import io_managers

PROJECT = Path(__file__).resolve().parents[1]
# a folder or a URL such as s3://bucket/prefix (credentials and endpoint from the environment, as s3fs reads them)
BASE_DIR = os.environ.get("SHARDED_DIGITS_BASE_DIR") or str(PROJECT / "artifacts")


def build_resources(base_dir: str = BASE_DIR) -> dict:
    return io_managers(base_dir, formats=["tfrecord"])  # tfrecord_io_manager: the parts and the committed artifact


def build_executor():
    """Dask when DASK_SCHEDULER_ADDRESS names a running scheduler (`pip install "dataset-assets[dask]"`), else in the run's process.

    Each run of a part has one step, so the parts run side by side as runs (a backfill), not as
    steps of one run; the in-process executor spares each run a second TensorFlow start-up.
    """
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if not address:
        return dg.in_process_executor
    # only a project that runs on Dask needs dagster-dask; this one keys Dask's tasks by run (see its docstring)
    from dataset_assets.dagster.dask import dask_executor

    return dask_executor.configured({"cluster": {"existing": {"address": address}}})
