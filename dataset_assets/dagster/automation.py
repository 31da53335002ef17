"""Automation conditions that respect data versions.

Dagster's `eager()` re-runs an asset whenever a dependency is *materialized*. The IO managers record
each dataset's content fingerprint as its data version, so `ARTIFACT_AUTOMATION` asks for a
changed *data version* instead: re-writing identical data starts nothing downstream; a change does,
once the dependency's blocking checks have passed.
"""

from dagster import AutomationCondition

# A dependency's data version changed since the last tick (and not in a run that already includes
# this asset), or the dependency will be materialized on this tick.
ANY_DEPS_DATA_CHANGED = AutomationCondition.any_deps_match(
    (AutomationCondition.data_version_changed() & ~AutomationCondition.executed_with_root_target()).with_label(
        "data_version_changed_without_root"
    )
    | AutomationCondition.will_be_requested()
).with_label("any_deps_data_version_changed")

DATA_VERSION_EAGER = AutomationCondition.eager().replace("any_deps_updated", ANY_DEPS_DATA_CHANGED).with_label("eager on data version")

# Follow the source dataset when its data changes, but only once its blocking checks have passed.
ARTIFACT_AUTOMATION = (DATA_VERSION_EAGER & AutomationCondition.all_deps_blocking_checks_passed()).with_label(
    "eager on data version, after upstream blocking checks pass"
)

# Run a check when its asset is updated or requested (eager waits for in-progress deps).
CHECK_AUTOMATION = AutomationCondition.eager()
