"""Checks on damaged artifacts: integrity fails, downstream is blocked, the verified stamp goes, automation waits."""

import numpy as np
import pytest
from dagster import AssetCheckKey, AssetSelection, DagsterInstance, MaterializeResult, asset, evaluate_automation_conditions, materialize

import dataset_assets as da
from dataset_assets.definitions import defs
from dataset_assets.defs import RawData, build_assets_and_checks, build_resources
from dataset_assets.home import read_stamp
from dataset_assets_tests.helpers import version_dir

from .conftest import failures

ASSETS, CHECKS = build_assets_and_checks()


def corrupt(artifact) -> str:
    """Flip one byte in the middle of the artifact's largest data file (same size, so only checksums catch it)."""
    entry = max(da.read_manifest(artifact).files, key=lambda f: f.bytes)
    path = version_dir(artifact) / entry.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return str(path)


@asset(deps=["numeric_npy"])
def numeric_consumer() -> MaterializeResult:
    return MaterializeResult(metadata={"ran": True})


def test_corrupted_artifact_fails_integrity_and_blocks_downstream(graph, tmp_path):
    base = graph.copy(tmp_path)

    def run():
        return materialize(
            [*ASSETS, *CHECKS, numeric_consumer],
            selection=AssetSelection.checks_for_assets("numeric_npy") | AssetSelection.assets(numeric_consumer),
            resources=build_resources(str(base)),
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )

    intact = run()  # control: with intact files the checks pass and the downstream asset runs
    assert intact.success and len(intact.asset_materializations_for_node("numeric_consumer")) == 1
    assert read_stamp(base / "numeric_npy") is not None

    damaged = corrupt(base / "numeric_npy")
    result = run()
    assert not result.success
    verdicts = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not verdicts["integrity"].passed and not verdicts["round_trip"].passed
    problems = verdicts["integrity"].metadata["problems"].value
    assert damaged in problems and "checksum does not match" in problems
    # the failed blocking checks stopped the downstream asset: it never started
    assert "numeric_consumer" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert result.asset_materializations_for_node("numeric_consumer") == []
    # and training code can no longer load the artifact as verified
    assert read_stamp(base / "numeric_npy") is None
    with pytest.raises(da.ArtifactError, match="no verification stamp"):
        da.load_asset("numeric_npy", base_dir=base)


def test_round_trip_fails_when_the_artifact_no_longer_matches_its_source(graph, tmp_path):
    base = graph.copy(tmp_path)
    other = da.load(base / "table_npy").take(10)  # a valid artifact, but not of table_dataset
    da.save(other, base / "table_npy", format="npy", overwrite=True)
    result = materialize(
        [*ASSETS, *CHECKS], selection=AssetSelection.checks_for_assets("table_npy"),
        resources=build_resources(str(base)), instance=DagsterInstance.ephemeral(), raise_on_error=False,
    )
    verdicts = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert verdicts["integrity"].passed  # the files are intact ...
    assert not verdicts["round_trip"].passed  # ... but they are not the source dataset
    assert "elements, the artifact 10" in verdicts["round_trip"].metadata["problems"].value


def _requested(evaluation) -> set[str]:
    return {
        (k.asset_key.to_user_string() + ":" + k.name) if isinstance(k, AssetCheckKey) else k.to_user_string()
        for k in (r.key for r in evaluation.results if r.true_subset.size)
    }


def test_artifacts_follow_their_dataset_only_when_its_data_changed_and_its_blocking_check_passed(graph, tmp_path):
    base = graph.copy(tmp_path)
    resources = build_resources(str(base))
    first = evaluate_automation_conditions(defs=defs, instance=graph.instance)
    assert _requested(first) == set()  # everything is up to date

    # numeric_dataset re-materialized from the same file: same fingerprint, same data version, nothing follows
    same = materialize([*ASSETS, *CHECKS], selection=AssetSelection.assets("numeric_dataset") | AssetSelection.checks_for_assets("numeric_dataset"), resources=resources, instance=graph.instance)
    assert same.success, failures(same)
    unchanged = evaluate_automation_conditions(defs=defs, instance=graph.instance, cursor=first.cursor)
    assert _requested(unchanged) == set()

    # numeric_dataset changes (half the rows), but its stored copy is damaged: its blocking check fails
    raw = tmp_path / "raw"
    (raw / "numeric").mkdir(parents=True)
    digits = np.load(RawData().numeric_path)
    np.savez(raw / "numeric" / "digits.npz", features=digits["features"][:900], target=digits["target"][:900])
    resources = {**resources, "raw_data": RawData(root=str(raw))}
    assert materialize([*ASSETS, *CHECKS], selection=AssetSelection.assets("numeric_dataset"), resources=resources, instance=graph.instance).success
    corrupt(base / "numeric_dataset")
    failed = materialize(
        [*ASSETS, *CHECKS], selection=AssetSelection.checks_for_assets("numeric_dataset"),
        resources=resources, instance=graph.instance, raise_on_error=False,
    )
    assert [e.passed for e in failed.get_asset_check_evaluations()] == [False]
    blocked = evaluate_automation_conditions(defs=defs, instance=graph.instance, cursor=unchanged.cursor)
    assert _requested(blocked) == set()

    # rebuilt and passing: exactly the numeric artifacts and their checks follow
    rebuilt = materialize([*ASSETS, *CHECKS], selection=AssetSelection.assets("numeric_dataset"), resources=resources, instance=graph.instance)
    assert rebuilt.success, failures(rebuilt)
    follow = evaluate_automation_conditions(defs=defs, instance=graph.instance, cursor=blocked.cursor)
    artifacts = {"numeric_npy", "numeric_hdf5", "numeric_tfrecord", "numeric_tfdata"}
    pipeline = {"numeric_train_pipeline", "numeric_train_pipeline:rebuild"}  # built on numeric_npy, follows it
    assert _requested(follow) == artifacts | {f"{a}:{c}" for a in artifacts for c in ("integrity", "round_trip")} | pipeline
