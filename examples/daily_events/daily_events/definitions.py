"""The code location: `dagster dev -w workspace.yaml` from examples/daily_events."""

import dagster as dg

from .assets import asset_checks, assets
from .resources import build_resources

# one job per day; a backfill of any range of days from the UI runs it once per day
daily_job = dg.define_asset_job("daily_events_job", selection=dg.AssetSelection.all())

defs = dg.Definitions(
    assets=assets,
    asset_checks=asset_checks,
    jobs=[daily_job],
    resources=build_resources(),
    executor=dg.in_process_executor,  # TensorFlow is imported once per run, not once per step
)
