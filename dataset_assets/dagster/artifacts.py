"""`artifact_assets`: for any asset that returns a `tf.data.Dataset`, its artifacts in chosen formats, with checks.

    daily = artifact_assets(daily_events, ["tfrecord", "npy"])   # daily_events_tfrecord, daily_events_npy
    Definitions(assets=[daily_events, *daily.assets], asset_checks=daily.checks, resources=io_managers(base_dir))

Each artifact asset hands the source dataset to the `<format>_io_manager` (a `DatasetIOManager`),
has the source's partitions, follows the source's data version (`ARTIFACT_AUTOMATION`) and gets a
blocking `round_trip` and a blocking `integrity` check, partitioned like the asset.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import tensorflow as tf
from dagster import AssetChecksDefinition, AssetIn, AssetKey, AssetsDefinition, asset

from ..formats import FORMATS
from .automation import ARTIFACT_AUTOMATION
from .checks import integrity_check, round_trip_check
from .io_managers import io_manager_key


@dataclass(frozen=True)
class ArtifactDefs:
    """The assets and checks `artifact_assets` made; pass both to `Definitions`."""

    assets: list[AssetsDefinition] = field(default_factory=list)
    checks: list[AssetChecksDefinition] = field(default_factory=list)


def artifact_assets(
    source: AssetsDefinition,
    formats: Sequence[str] = ("tfrecord",),
    *,
    name: str | None = None,
    group_name: str | None = "artifacts",
    io_manager_keys: dict[str, str] | None = None,
    automation_condition=ARTIFACT_AUTOMATION,
) -> ArtifactDefs:
    """Artifact assets `<name>_<format>` (key prefix of the source kept) of the dataset `source` returns.

    `name` defaults to the last part of the source's key; `io_manager_keys` maps a format to its
    resource key (default `<format>_io_manager`).
    """
    if not isinstance(source, AssetsDefinition) or len(source.keys) != 1:
        raise TypeError(f"artifact_assets takes one asset (an @asset function) returning a tf.data.Dataset, not {source!r}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats {list(formats)!r}: choose one or more of {', '.join(FORMATS)}")
    key = source.key
    base = name or key.path[-1]
    out = ArtifactDefs()
    for fmt in formats:
        target = AssetKey([*key.path[:-1], f"{base}_{fmt}"])
        resource = (io_manager_keys or {}).get(fmt, io_manager_key(fmt))
        artifact = _artifact_asset(target, key, fmt, resource, source.partitions_def, group_name, automation_condition)
        out.assets.append(artifact)
        out.checks.extend([round_trip_check(artifact, key), integrity_check(artifact)])
    return out


def _artifact_asset(target: AssetKey, source: AssetKey, fmt: str, resource: str, partitions_def, group_name, automation_condition) -> AssetsDefinition:
    @asset(
        key=target,
        group_name=group_name,
        ins={"source": AssetIn(key=source)},
        io_manager_key=resource,
        partitions_def=partitions_def,
        automation_condition=automation_condition,
        kinds={"tensorflow"},
        tags={"format": fmt},
        description=f"{source.to_user_string()} saved as a {fmt} artifact with dataset_assets.save.",
    )
    def _artifact(source: tf.data.Dataset) -> tf.data.Dataset:
        return source

    return _artifact
