"""The whole graph materialized once per test session into a temporary home, on an ephemeral instance."""

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, materialize

from dataset_assets.defs import build_assets_and_checks, build_resources

ASSETS, CHECKS = build_assets_and_checks()


@dataclass
class Graph:
    home: Path  # what DATASET_ASSETS_HOME would be
    base_dir: Path  # <home>/artifacts
    instance: DagsterInstance
    result: ExecuteInProcessResult

    def materialization(self, name: str):
        (event,) = [e.materialization for e in self.result.get_asset_materialization_events() if e.materialization.asset_key == AssetKey(name)]
        return event

    def copy(self, tmp_path: Path) -> Path:
        """A private copy of the artifacts, for tests that damage or rewrite them."""
        target = tmp_path / "artifacts"
        shutil.copytree(self.base_dir, target)
        return target


def failures(result: ExecuteInProcessResult) -> list[str]:
    out = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            out.append(f"{event.step_key}: {(error.cause or error).message.strip()}")
        elif event.is_resource_init_failure and event.engine_event_data.error is not None:
            error = event.engine_event_data.error
            out.append(f"resources: {(error.cause or error).message.strip()}")
    out += [f"{e.asset_key.to_user_string()}:{e.check_name}: {e.description}" for e in result.get_asset_check_evaluations() if not e.passed]
    return out


@pytest.fixture(scope="session")
def graph(tmp_path_factory) -> Graph:
    home = tmp_path_factory.mktemp("home")
    instance = DagsterInstance.ephemeral()
    result = materialize([*ASSETS, *CHECKS], resources=build_resources(str(home / "artifacts")), instance=instance, raise_on_error=False)
    assert result.success and not failures(result), failures(result)
    return Graph(home, home / "artifacts", instance, result)
