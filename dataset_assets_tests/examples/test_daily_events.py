"""examples/daily_events: its Definitions load, its days materialize with a passing check per partition, training code loads them."""

import os
import subprocess
import sys

import pandas as pd
import pytest
import tensorflow as tf
from dagster import AssetKey

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements, dagster_validate

from .conftest import DAYS, EXAMPLE

CHECKS = {("daily_events", "integrity"), ("daily_events_tfrecord", "integrity"), ("daily_events_tfrecord", "round_trip"),
          ("last_three_days", "integrity"), ("last_three_days", "round_trip")}


def rows(*days: str) -> pd.DataFrame:
    table = pd.read_csv(EXAMPLE / "events.csv", dtype={"day": str, "time": str, "kind": str})
    return pd.concat([table[table["day"] == d].sort_values("time", kind="stable") for d in days])


def test_dagster_loads_the_example_from_its_workspace():
    output = dagster_validate(EXAMPLE)
    assert "Validation successful for code location daily_events" in output


def test_definitions_hold_partitioned_assets_and_checks_and_run_in_process(example):
    definitions, _ = example
    graph = definitions.defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"daily_events", "daily_events_tfrecord", "last_three_days"}
    assert all(graph.get(AssetKey(k)).partitions_def is not None for k in keys)
    assert {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys} == CHECKS
    assert all(graph.get_check_spec(c).partitions_def is not None and graph.get_check_spec(c).blocking for c in graph.asset_check_keys)
    assert definitions.defs.resolve_job_def("daily_events_job").executor_def.name == "in_process"


def test_the_schedule_asks_each_night_for_the_day_that_just_ended(example):
    import datetime

    import dagster as dg

    definitions, _ = example
    repository = definitions.defs.get_repository_def()
    (schedule,) = repository.schedule_defs
    assert schedule.job_name == "daily_events_job" and schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    night = datetime.datetime(2024, 1, 4, 1, 0, tzinfo=datetime.timezone.utc)
    context = dg.build_schedule_context(repository_def=repository, scheduled_execution_time=night)
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-01-03"


@pytest.mark.parametrize("day", DAYS)
def test_each_day_passes_every_check_for_its_own_partition(materialized, day):
    result = materialized.results[day]
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {(e.asset_key.to_user_string(), e.check_name) for e in evaluations} == CHECKS
    assert all(e.passed and e.partition == day for e in evaluations)
    artifact = materialized.base / "daily_events_tfrecord" / day
    assert da.read_manifest(artifact).format == "tfrecord"
    (round_trip,) = [e for e in evaluations if e.asset_key == AssetKey("daily_events_tfrecord") and e.check_name == "round_trip"]
    assert round_trip.metadata["version"].value == da.read_manifest(artifact).version  # the record names the version that passed
    assert round_trip.metadata["partition"].value == day
    assert da.home.read_stamp(artifact)["version"] == round_trip.metadata["version"].value


def test_the_window_of_three_days_is_one_dataset_of_every_event_in_order(materialized):
    window = da.load_asset("last_three_days", partition="2024-01-03", base_dir=materialized.base)
    expected = rows(*DAYS)
    assert int(window.cardinality()) == len(expected)
    got = list(window.as_numpy_iterator())
    assert [e["time"].decode() for e in got] == expected["time"].tolist()  # every element, days in order
    assert [e["amount"] for e in got] == expected["amount"].tolist()
    first = da.load_asset("last_three_days", partition="2024-01-01", base_dir=materialized.base)  # no days before the first
    assert int(first.cardinality()) == len(rows("2024-01-01"))


def test_load_asset_reads_partitions_a_range_or_all_of_them(materialized):
    base = materialized.base
    two = da.load_asset("daily_events_tfrecord", partitions=["2024-01-01", "2024-01-02"], base_dir=base)
    one = lambda day: da.load_asset("daily_events_tfrecord", partition=day, base_dir=base)  # noqa: E731
    assert_same_elements(two, one("2024-01-01").concatenate(one("2024-01-02")))
    assert_same_elements(da.load_asset("daily_events_tfrecord", partition_range=("2024-01-02", "2024-01-03"), base_dir=base),
                         one("2024-01-02").concatenate(one("2024-01-03")))
    assert_same_elements(da.load_asset("daily_events_tfrecord", base_dir=base), da.load_asset("last_three_days", partition="2024-01-03", base_dir=base))
    assert_same_elements(da.load_asset("daily_events_tfrecord/2024-01-02", base_dir=base), one("2024-01-02"))  # a partition is an artifact
    mixed = list(da.load_asset("daily_events_tfrecord", partitions=["2024-01-01", "2024-01-02"], interleave=True, base_dir=base).as_numpy_iterator())
    a, b = rows("2024-01-01")["time"].tolist(), rows("2024-01-02")["time"].tolist()
    assert [e["time"].decode() for e in mixed[:4]] == [a[0], b[0], a[1], b[1]] and len(mixed) == len(a) + len(b)
    with pytest.raises(da.ArtifactError, match=r"no partition '2024-01-05'.*stored: 2024-01-01, 2024-01-02, 2024-01-03"):
        da.load_asset("daily_events_tfrecord", partitions=["2024-01-01", "2024-01-05"], base_dir=base)


def test_partitions_that_differ_in_element_spec_are_refused_by_name(materialized, tmp_path):
    base = tmp_path / "artifacts"
    da.save(da.load(materialized.base / "daily_events_tfrecord" / "2024-01-01"), base / "events" / "2024-01-01", format="npy")
    da.save(da.load(materialized.base / "daily_events_tfrecord" / "2024-01-02").map(lambda e: {**e, "user": tf.cast(e["user"], tf.float64)}),
            base / "events" / "2024-01-02", format="npy")
    with pytest.raises(da.UnsupportedDatasetError, match=r"partition '2024-01-02' of .*events has element_spec"):
        da.load_asset("events", verified=False, base_dir=base)


def test_a_corrupted_day_fails_its_integrity_check_and_blocks_the_window_built_on_it(materialized, tmp_path):
    import shutil

    from dagster import AssetSelection

    from dataset_assets_tests.defs.test_checks import corrupt

    base = tmp_path / "artifacts"
    shutil.copytree(materialized.base, base)
    corrupt(base / "daily_events_tfrecord" / "2024-01-02")
    selection = AssetSelection.checks_for_assets("daily_events_tfrecord") | AssetSelection.assets("last_three_days")
    result = materialized.run("2024-01-02", selection=selection, base=base)
    verdicts = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey("daily_events_tfrecord")}
    assert not verdicts["integrity"].passed and verdicts["integrity"].partition == "2024-01-02"
    assert "checksum does not match" in verdicts["integrity"].metadata["problems"].value
    assert not [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey("last_three_days")]  # blocked
    assert da.home.read_stamp(base / "daily_events_tfrecord" / "2024-01-02") is None  # no longer verified
    with pytest.raises(da.ArtifactError, match="no verification stamp"):
        da.load_asset("daily_events_tfrecord", partition="2024-01-02", base_dir=base)
    assert result.success is False
    # the other days are intact (a partitioned run needs an asset: daily_events, rewritten with the same data)
    other = materialized.run("2024-01-03", selection=AssetSelection.checks_for_assets("daily_events_tfrecord") | AssetSelection.assets("daily_events"), base=base)
    assert other.success and all(e.passed for e in other.get_asset_check_evaluations())


def test_training_code_reads_the_days_without_dagster(materialized):
    code = (
        "import sys, dataset_assets as da\n"
        f"ds = da.load_asset('daily_events_tfrecord', partitions={DAYS!r}, base_dir={str(materialized.base)!r})\n"
        "print(int(ds.cardinality()))\n"
        "assert 'dagster' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) == len(rows(*DAYS))


def test_automation_follows_a_day_only_when_its_data_changed(example, tmp_path):
    """Dagster's own automation evaluation on the example: an unchanged rewrite of a day starts nothing; a change starts its artifact."""
    from dagster import AssetSelection, DagsterInstance, evaluate_automation_conditions, materialize

    definitions, resources = example
    defs, day, base, instance = definitions.defs, "2024-01-07", tmp_path / "artifacts", DagsterInstance.ephemeral()
    everything = [*defs.assets, *defs.asset_checks]
    source = AssetSelection.assets("daily_events") | AssetSelection.checks_for_assets("daily_events")

    def run(selection=None, events=None, partition=day):
        res = resources.build_resources(str(base)) | ({"events_file": resources.EventsFile(path=str(events))} if events else {})
        result = materialize(everything, partition_key=partition, selection=selection, resources=res, instance=instance)
        assert result.success
        return result

    days_only = AssetSelection.assets("daily_events", "daily_events_tfrecord") | AssetSelection.checks_for_assets("daily_events", "daily_events_tfrecord")
    for previous in ("2024-01-05", "2024-01-06"):  # the two days the newest day's window reads
        run(days_only, partition=previous)
    run()  # the newest day, everything
    first = evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # up to date

    run(source)  # the same rows again: same fingerprint, same data version
    unchanged = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert unchanged.total_requested == 0

    edited = tmp_path / "events.csv"
    table = pd.read_csv(EXAMPLE / "events.csv", dtype={"day": str, "time": str, "kind": str})
    table.loc[table["day"] == day, "amount"] += 1.0
    table.to_csv(edited, index=False)
    run(source, events=edited)  # the day's data changed, and its integrity check passed
    changed = evaluate_automation_conditions(defs=defs, instance=instance, cursor=unchanged.cursor)
    assert changed.get_requested_partitions(AssetKey("daily_events_tfrecord")) == {day}
    assert changed.get_requested_partitions(AssetKey("last_three_days")) == {day}  # requested with it, in the same tick
