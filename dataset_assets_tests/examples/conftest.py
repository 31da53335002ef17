"""The example project examples/daily_events, imported as its users run it (its folder on sys.path)."""

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "daily_events"
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


@pytest.fixture(scope="session")
def example():
    sys.path.insert(0, str(EXAMPLE))
    try:
        from daily_events import definitions, resources

        yield definitions, resources
    finally:
        sys.path.remove(str(EXAMPLE))


@dataclass
class Materialized:
    base: Path
    instance: DagsterInstance
    results: dict  # day -> ExecuteInProcessResult
    definitions: object
    resources: object

    def run(self, day: str, selection=None, base: Path | None = None, resources: dict | None = None, **kwargs):
        defs = self.definitions.defs
        return materialize(
            [*defs.assets, *defs.asset_checks],
            partition_key=day,
            selection=selection,
            resources=resources or self.resources.build_resources(str(base or self.base)),
            instance=self.instance,
            raise_on_error=False,
            **kwargs,
        )


@pytest.fixture(scope="session")
def materialized(example, tmp_path_factory) -> Materialized:
    """Days 1 to 3 of the example, every asset and check, one run per day (as a backfill from the UI runs them)."""
    definitions, resources = example
    m = Materialized(tmp_path_factory.mktemp("daily") / "artifacts", DagsterInstance.ephemeral(), {}, definitions, resources)
    for day in DAYS:
        m.results[day] = m.run(day)
    return m
