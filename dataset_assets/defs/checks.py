"""Check builders: integrity (checksums + read-back) and round-trip (artifact == its source dataset).

Both are blocking: a failure stops everything downstream of the artifact in the same run, and
declarative automation waits for them. The round-trip check is the one that stamps an artifact
as verified for `dataset_assets.load_asset`; any failure removes the stamp.
"""

import tensorflow as tf
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    AssetSelection,
    AutomationCondition,
    MetadataValue,
    asset_check,
)

from ..home import remove_stamp, stamp_path, write_stamp
from ..integrity import VerifyReport, verify

# Run a check when its asset is updated or requested (eager waits for in-progress deps).
CHECK_AUTOMATION = AutomationCondition.eager()


def _result(report: VerifyReport, what: str, extra: dict | None = None) -> AssetCheckResult:
    return AssetCheckResult(
        passed=report.ok,
        severity=AssetCheckSeverity.ERROR,
        description=f"{what}: {'passed' if report.ok else 'FAILED: ' + report.problems[0]}",
        metadata={
            "path": MetadataValue.path(report.path),
            "format": report.format or "",
            "num_elements": report.num_elements if report.num_elements is not None else -1,
            "fingerprint": report.fingerprint or "",
            "files_checked": report.files_checked,
            **({"problems": MetadataValue.md("\n".join(f"- {p}" for p in report.problems))} if report.problems else {}),
            **(extra or {}),
        },
    )


def integrity_check(asset: str, io_manager_key: str) -> AssetChecksDefinition:
    """Every file's checksum matches the manifest and the data reads back with the manifest's fingerprint."""
    key = AssetKey(asset)

    @asset_check(
        asset=key,
        name="integrity",
        blocking=True,
        required_resource_keys={io_manager_key},
        automation_condition=CHECK_AUTOMATION,
        description=f"Checksums of every file of {asset} match its manifest; the data reads back with the recorded fingerprint.",
    )
    def _integrity(context: AssetCheckExecutionContext) -> AssetCheckResult:
        artifact = getattr(context.resources, io_manager_key).artifact_dir(key)
        report = verify(artifact)
        if not report.ok:
            remove_stamp(artifact)  # a damaged artifact must not be loaded as verified
        return _result(report, "integrity")

    return _integrity


def round_trip_check(asset: str, source: str, io_manager_key: str) -> AssetChecksDefinition:
    """The artifact loaded from disk equals the dataset it was written from: element_spec, count, fingerprint, elements."""
    key = AssetKey(asset)

    @asset_check(
        asset=key,
        name="round_trip",
        blocking=True,
        additional_ins={"source": AssetIn(key=AssetKey(source))},
        required_resource_keys={io_manager_key},
        # not on a source change alone: a broken new source must not un-verify the last good artifact
        automation_condition=CHECK_AUTOMATION.ignore(AssetSelection.assets(AssetKey(source))),
        description=f"{asset} loaded from disk equals {source}: element_spec, element count, fingerprint, every element.",
    )
    def _round_trip(context: AssetCheckExecutionContext, source: tf.data.Dataset) -> AssetCheckResult:
        artifact = getattr(context.resources, io_manager_key).artifact_dir(key)
        report = verify(artifact, source)
        if report.ok:
            write_stamp(artifact, checked_by=f"{asset}:round_trip")
        else:
            remove_stamp(artifact)
        return _result(report, "round trip", {"stamp": MetadataValue.path(str(stamp_path(artifact))) if report.ok else ""})

    return _round_trip
