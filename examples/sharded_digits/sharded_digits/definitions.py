"""The code location: `dagster dev -w workspace.yaml` from examples/sharded_digits."""

import dagster as dg

from .assets import digits
from .resources import build_executor, build_resources

# one run per part: a backfill of digits_parts (UI, or `dagster asset backfill`) runs the parts side by side
parts_job = dg.define_asset_job("digits_parts_job", selection=dg.AssetSelection.assets(digits.assets[0]))
commit_job = dg.define_asset_job("digits_commit_job", selection=dg.AssetSelection.assets(digits.assets[1]))

defs = dg.Definitions(
    assets=digits.assets,
    asset_checks=digits.checks,
    jobs=[parts_job, commit_job],
    resources=build_resources(),
    executor=build_executor(),
)
