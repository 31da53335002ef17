"""The code location: `dagster dev -w workspace.yaml` from examples/daily_events."""

import dagster as dg

from .assets import asset_checks, assets
from .resources import build_resources

# one job per day; a backfill of any range of days from the UI runs it once per day
daily_job = dg.define_asset_job("daily_events_job", selection=dg.AssetSelection.all())
# each night at 01:00 UTC, the day that just ended; off until switched on in the UI (Automation tab)
daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=1, default_status=dg.DefaultScheduleStatus.STOPPED)

defs = dg.Definitions(
    assets=assets,
    asset_checks=asset_checks,
    jobs=[daily_job],
    schedules=[daily_schedule],
    resources=build_resources(),
    executor=dg.in_process_executor,  # TensorFlow is imported once per run, not once per step
)
