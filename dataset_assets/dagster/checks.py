"""Check builders: `integrity` (checksums + read-back) and `round_trip` (artifact == the dataset it was written from).

Both are blocking: a failure stops everything downstream of the artifact in the same run, and
declarative automation waits for them. On a partitioned asset they are partitioned the same way
(Dagster's partition-aware checks), so each evaluates the partition just materialized and the UI
shows a result per partition. The passing round-trip check stamps the exact version it checked
as verified for `dataset_assets.load_asset`; any failure removes the stamp.
"""

import warnings

import tensorflow as tf
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    MetadataValue,
    PreviewWarning,
    asset_check,
)

from .. import api
from ..errors import DatasetAssetsError
from ..home import remove_stamp, stamp_path, write_stamp
from ..integrity import VerifyReport, verify
from ..partitions import combine
from ..storage import ArtifactStore, Location
from .automation import CHECK_AUTOMATION


def _partitioned_check(**kwargs):
    """`@asset_check(...)`; a `partitions_def` on a check is a Dagster "preview" feature, chosen on purpose here."""
    def decorate(fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PreviewWarning)
            return asset_check(**kwargs)(fn)

    return decorate


def _target(asset, io_manager_key: str | None, partitions_def) -> tuple[AssetKey, str, object]:
    """(key, io manager key, partitions_def) of `asset`: an AssetsDefinition gives what is not passed."""
    if isinstance(asset, AssetsDefinition):
        key = asset.key
        io_manager_key = io_manager_key or asset.get_io_manager_key_for_asset_key(key)
        partitions_def = partitions_def if partitions_def is not None else asset.partitions_def
    else:
        key = AssetKey.from_coercible(asset)
    if not io_manager_key:
        raise ValueError(f"give the io_manager_key that stores {key.to_user_string()} (a DatasetIOManager)")
    return key, io_manager_key, partitions_def


def _artifact(context: AssetCheckExecutionContext, key: AssetKey, io_manager_key: str, partitions_def):
    partition = context.partition_key if partitions_def is not None and context.has_partition_key else None
    return getattr(context.resources, io_manager_key).artifact_dir(key, partition, partitions_def), partition


def _current_version(artifact) -> str | None:
    """The version the check evaluates, resolved once: a commit during the check does not change what it proves."""
    try:
        return ArtifactStore(Location.of(artifact)).resolve().id
    except (DatasetAssetsError, OSError, ValueError):  # missing or damaged: verify() reports why
        return None


def _result(report: VerifyReport, what: str, version: str | None, partition: str | None, extra: dict | None = None) -> AssetCheckResult:
    where = f" (partition {partition})" if partition else ""
    return AssetCheckResult(
        passed=report.ok,
        severity=AssetCheckSeverity.ERROR,
        description=f"{what}{where}: {'passed' if report.ok else 'FAILED: ' + report.problems[0]}",
        metadata={
            "path": MetadataValue.path(report.path),
            "version": version or "",  # the exact version this result is about
            **({"partition": partition} if partition else {}),  # an unpartitioned asset shows no empty row
            "format": report.format or "",
            "num_elements": report.num_elements if report.num_elements is not None else -1,
            "fingerprint": report.fingerprint or "",
            "files_checked": report.files_checked,
            **({"problems": MetadataValue.md("\n".join(f"- {p}" for p in report.problems))} if report.problems else {}),
            **(extra or {}),
        },
    )


def round_trip_result(
    context: AssetCheckExecutionContext, key: AssetKey, io_key: str, partitions_def, reference: tf.data.Dataset, name: str = "round_trip"
) -> AssetCheckResult:
    """The round-trip check's result for the artifact of `key` against `reference`; stamps the version verified when it passes."""
    artifact, partition = _artifact(context, key, io_key, partitions_def)
    version = _current_version(artifact)
    report = verify(artifact, reference, version=version)
    if report.ok:
        write_stamp(artifact, checked_by=f"{key.to_user_string()}:{name}", version=version)
    else:
        remove_stamp(artifact)
    return _result(report, "round trip", version, partition, {"stamp": MetadataValue.path(str(stamp_path(artifact))) if report.ok else ""})


def integrity_check(asset, io_manager_key: str | None = None, *, partitions_def=None, name: str = "integrity") -> AssetChecksDefinition:
    """Every file's checksum matches the manifest and the data reads back with the manifest's fingerprint.

    `asset`: an AssetsDefinition (its io manager key and partitions are used) or a key with `io_manager_key`.
    """
    key, io_key, partitions_def = _target(asset, io_manager_key, partitions_def)

    @_partitioned_check(
        asset=key,
        name=name,
        blocking=True,
        required_resource_keys={io_key},
        partitions_def=partitions_def,
        automation_condition=CHECK_AUTOMATION,
        description=f"Checksums of every file of {key.to_user_string()} match its manifest; the data reads back with the recorded fingerprint.",
    )
    def _integrity(context: AssetCheckExecutionContext) -> AssetCheckResult:
        artifact, partition = _artifact(context, key, io_key, partitions_def)
        version = _current_version(artifact)
        report = verify(artifact, version=version)
        if not report.ok:
            remove_stamp(artifact)  # a damaged artifact must not be loaded as verified
        return _result(report, "integrity", version, partition)

    return _integrity


def round_trip_check(
    asset, source, io_manager_key: str | None = None, *, partitions_def=None, partition_mapping=None, name: str = "round_trip"
) -> AssetChecksDefinition:
    """The artifact loaded from storage equals `source`, the dataset it was written from: element_spec, count, fingerprint, elements.

    `source`: the upstream asset (an AssetsDefinition, or a key) whose value the artifact holds.
    `partition_mapping`: the one the artifact's input uses when it is not the identity (e.g. a window
    of days); `source` must then be the AssetsDefinition, stored by a DatasetIOManager, and the
    check reads the mapped partitions itself (Dagster does not apply partition mappings to a
    check's inputs), combined as that IO manager combines them.
    """
    key, io_key, partitions_def = _target(asset, io_manager_key, partitions_def)
    source_key = source.key if isinstance(source, AssetsDefinition) else AssetKey.from_coercible(source)
    description = f"{key.to_user_string()} loaded from storage equals {source_key.to_user_string()}: element_spec, element count, fingerprint, every element."
    # not on a source change alone: a broken new source must not un-verify the last good artifact
    automation = CHECK_AUTOMATION.ignore(AssetSelection.assets(source_key))

    def evaluate(context: AssetCheckExecutionContext, reference: tf.data.Dataset) -> AssetCheckResult:
        return round_trip_result(context, key, io_key, partitions_def, reference, name)

    if partition_mapping is None:

        @_partitioned_check(
            asset=key, name=name, blocking=True, additional_ins={"source": AssetIn(key=source_key)}, required_resource_keys={io_key},
            partitions_def=partitions_def, automation_condition=automation, description=description,
        )
        def _round_trip(context: AssetCheckExecutionContext, source: tf.data.Dataset) -> AssetCheckResult:
            return evaluate(context, source)

        return _round_trip

    if not isinstance(source, AssetsDefinition) or partitions_def is None or source.partitions_def is None:
        raise ValueError("round_trip_check with a partition_mapping needs a partitioned asset and its source as an AssetsDefinition")
    source_io_key = source.get_io_manager_key_for_asset_key(source_key)

    @_partitioned_check(
        asset=key, name=name, blocking=True, additional_deps=[source_key], required_resource_keys={io_key, source_io_key},
        partitions_def=partitions_def, automation_condition=automation, description=description,
    )
    def _round_trip_mapped(context: AssetCheckExecutionContext) -> AssetCheckResult:
        upstream = partition_mapping.get_upstream_mapped_partitions_result_for_partitions(
            partitions_def.subset_with_partition_keys([context.partition_key]), partitions_def, source.partitions_def
        ).partitions_subset
        order = {k: i for i, k in enumerate(source.partitions_def.get_partition_keys())}
        keys = sorted(upstream.get_partition_keys(), key=lambda k: order.get(k, len(order)))
        store = getattr(context.resources, source_io_key)
        parts = {k: api.load(store.artifact_dir(source_key, k, source.partitions_def)) for k in keys}
        return evaluate(context, combine(parts, store.interleave_partitions, what=source_key.to_user_string()))

    return _round_trip_mapped
