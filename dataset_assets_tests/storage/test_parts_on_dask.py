"""End to end on a real distributed engine: examples/sharded_digits on dagster-dask's executor, a Dask `LocalCluster`
of two worker processes, the artifact on the S3 server. Two runs, one per part, started side by side with Dagster's
CLI, each hand their step to the cluster; a third run commits. The committed artifact equals a single-process save
of the same data, and its blocking checks pass."""

import os
import subprocess
import sys
from pathlib import Path

import distributed
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

import dataset_assets as da
from dataset_assets_tests.storage import util


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sharded_digits"
PARTS = 2


def dagster(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", *args], cwd=EXAMPLE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen, what: str, timeout: float = 300) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{what} failed ({process.returncode}):\n{out[-6000:]}"
    return out


def test_parts_written_by_two_dask_workers_commit_to_the_single_process_artifact(bucket, s3_server, tmp_path):
    base = f"s3://{bucket}/digits-artifacts"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "SHARDED_DIGITS_BASE_DIR": base,
        "SHARDED_DIGITS_PARTS": str(PARTS),
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(EXAMPLE.parents[1])]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    (tmp_path / "dagster").mkdir()
    # no captured stdout/stderr: Dagster's local compute logs run a `tail -F` per step, which the Dask workers,
    # closed with the cluster, left running after the test; the event log this test reads is unaffected
    (tmp_path / "dagster" / "dagster.yaml").write_text(
        "compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n  class: NoOpComputeLogManager\n"
    )
    # the runs below share one SQLite instance: its storage is created here first (in-process, as `dagster instance
    # migrate` would, without another interpreter importing Dagster), so that they do not race to create it
    with DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])):
        pass
    saved = dict(os.environ)
    os.environ.update(env)  # the workers inherit it: S3 endpoint, DAGSTER_HOME, the example on the path
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        client = distributed.Client(cluster)
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2
        env["DASK_SCHEDULER_ADDRESS"] = cluster.scheduler_address
        module = ["-m", "sharded_digits.definitions"]
        runs = [dagster(["asset", "materialize", *module, "--select", "digits_parts", "--partition", f"part-0000{i}-of-00002"], env) for i in range(PARTS)]
        for i, r in enumerate(runs):
            finish(r, f"the run of part {i}")
        finish(dagster(["asset", "materialize", *module, "--select", "digits"], env), "the commit run")
    finally:
        client.close()
        cluster.close()

    # each part's run executed its own step (dagster-dask alone shares one Dask task between the two runs), in a Dask worker
    with DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        for i in range(PARTS):
            partition = f"part-0000{i}-of-00002"
            (run,) = [r for r in instance.get_runs() if r.tags.get("dagster/partition") == partition]
            events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
            starts = [e.pid for e in events if e.event_type_value == "STEP_START" and e.step_key == "digits_parts"]
            assert len(starts) == 1 and starts[0] in worker_pids, f"the run of {partition}: steps started in {starts}, the Dask workers are {worker_pids}"
            written = [e.event_specific_data.materialization for e in events if e.event_type_value == "ASSET_MATERIALIZATION"]
            assert [(m.partition, m.metadata["part"].value) for m in written] == [(partition, i)]
        (commit,) = [r for r in instance.get_runs() if "dagster/partition" not in r.tags]
        checks = [e.dagster_event.event_specific_data for e in instance.all_logs(commit.run_id) if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
        assert sorted((c.check_name, c.passed) for c in checks) == [("integrity", True), ("round_trip", True)], checks

    sys.path.insert(0, str(EXAMPLE))
    try:
        from sharded_digits.assets import read_part
    finally:
        sys.path.remove(str(EXAMPLE))
    whole = read_part(0, 1)
    single = da.save(whole, tmp_path / "single", format="tfrecord")
    path = util.join(base, "digits")
    manifest = da.read_manifest(path)
    assert manifest.fingerprint == single.fingerprint and manifest.num_elements == single.num_elements == 1000
    assert [p["name"] for p in manifest.details["parts"]] == ["part-00000-of-00002", "part-00001-of-00002"]
    report = da.verify(path, whole)
    assert report.ok, report.problems
