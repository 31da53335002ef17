"""A daily-partitioned dataset read from a CSV, its tfrecord artifacts, and a window of three days."""

import dagster as dg
import numpy as np
import pandas as pd
import tensorflow as tf

from dataset_assets.dagster import ARTIFACT_AUTOMATION, artifact_assets, integrity_check, round_trip_check

from .resources import EventsFile

days = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")  # the days events.csv holds


@dg.asset(partitions_def=days, kinds={"tensorflow"})
def daily_events(context: dg.AssetExecutionContext, events_file: EventsFile) -> tf.data.Dataset:
    """The events of one day, in time order: {"time": string, "user": int64, "kind": string, "amount": float64}."""
    table = pd.read_csv(events_file.path, dtype={"day": str, "time": str, "kind": str})
    rows = table[table["day"] == context.partition_key].sort_values("time", kind="stable")
    return tf.data.Dataset.from_tensor_slices(
        {
            "time": tf.constant(rows["time"].tolist(), dtype=tf.string),
            "user": rows["user"].to_numpy(np.int64),
            "kind": tf.constant(rows["kind"].tolist(), dtype=tf.string),
            "amount": rows["amount"].to_numpy(np.float64),
        }
    )


# daily_events_tfrecord, one tfrecord artifact per day, with blocking round_trip and integrity checks per day
events = artifact_assets(daily_events, ["tfrecord"])

# each day together with the two days before it: the input is ONE dataset of the three partitions, in day order
THREE_DAYS = dg.TimeWindowPartitionMapping(start_offset=-2, allow_nonexistent_upstream_partitions=True)


@dg.asset(
    partitions_def=days,
    ins={"recent": dg.AssetIn("daily_events_tfrecord", partition_mapping=THREE_DAYS)},
    io_manager_key="tfrecord_io_manager",
    automation_condition=ARTIFACT_AUTOMATION,
    kinds={"tensorflow"},
)
def last_three_days(recent: tf.data.Dataset) -> tf.data.Dataset:
    """The events of the day and the two days before it, oldest first: a training window."""
    return recent


window_checks = [round_trip_check(last_three_days, events.assets[0], partition_mapping=THREE_DAYS), integrity_check(last_three_days)]

assets = [daily_events, *events.assets, last_three_days]
asset_checks = [integrity_check(daily_events), *events.checks, *window_checks]
