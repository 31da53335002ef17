"""`dataset-assets materialize`: the main job end to end on a real local instance, as a new user runs it."""

import os
import re
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus

import dataset_assets as da
from dataset_assets import cli
from dataset_assets.definitions import defs


def test_materialize_command_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(DATASET_ASSETS_HOME=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    command = Path(sys.executable).with_name("dataset-assets")
    proc = subprocess.run([str(command), "materialize"], env=env, cwd="/", capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    assert f"artifacts in {tmp_path / 'artifacts'}:" in out and "checks: 32 passed, 0 failed" in out
    assert f"DAGSTER_HOME={tmp_path / 'dagster'} dagster dev -w " in out and out.rstrip().endswith("done")
    assert re.search(r"\n  image_pathlist +pathlist +1,000 elements +[0-9.,]+ [kMG]?B  verified\n", out)
    assert re.search(r"\n  numeric_dataset +npy +1,797 elements +[0-9.,]+ [kMG]?B  checks passed\n", out)
    assert len(re.findall(r"B  verified\n", out)) == 13
    assert "enabled: false" in (tmp_path / "dagster" / "dagster.yaml").read_text()  # written, telemetry off
    assert "Telemetry" not in out + proc.stderr and "usage statistics" not in out + proc.stderr  # so no banner

    # the run and every materialization are in the local instance the UI reads
    with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS and run.job_name == "materialize_all"
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        assert all(instance.get_latest_materialization_event(k) is not None for k in keys)
    assert int(da.load_asset("table_tfrecord", base_dir=tmp_path / "artifacts").cardinality()) == 150


def test_materialize_command_fails_with_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATASET_ASSETS_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "instance"))
    (tmp_path / "instance").mkdir()
    config = tmp_path / "run.yaml"
    config.write_text(f"resources:\n  raw_data:\n    config:\n      root: {tmp_path / 'nothing'}\n")
    assert cli.main(["materialize", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    for step, what in (("raw_numeric", "numeric/digits.npz"), ("raw_images", "images"), ("raw_table", "table/iris.csv")):
        assert f"step {step} failed: dataset_assets.defs.raw.RawDataError: {step}: {tmp_path / 'nothing' / what} does not exist" in out
    assert "(none written)" in out and out.rstrip().endswith("FAILED: see the messages above")
    assert "load_asset" not in out and "train_digits" not in out  # no next steps that would fail
    assert not (tmp_path / "artifacts").exists()
