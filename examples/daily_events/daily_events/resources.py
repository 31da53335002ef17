"""Where the events come from and where the artifacts go."""

import os
from pathlib import Path

import dagster as dg

from dataset_assets.dagster import NpyIOManager, io_managers

PROJECT = Path(__file__).resolve().parents[1]
# every artifact of this project lives here; set DAILY_EVENTS_BASE_DIR (a folder or s3://bucket/prefix) to move them
BASE_DIR = os.environ.get("DAILY_EVENTS_BASE_DIR") or str(PROJECT / "artifacts")


class EventsFile(dg.ConfigurableResource):
    """The CSV of events: one row per event, its day in the `day` column."""

    path: str = str(PROJECT / "events.csv")


def build_resources(base_dir: str = BASE_DIR) -> dict:
    return {
        "events_file": EventsFile(),
        "io_manager": NpyIOManager(base_dir=base_dir),  # the sources' store: a tf.data.Dataset cannot be pickled
        **io_managers(base_dir, formats=["tfrecord"]),  # tfrecord_io_manager, for the artifacts
    }
