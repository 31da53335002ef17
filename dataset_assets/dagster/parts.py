"""`sharded_artifact_assets`: one artifact written in parallel parts by Dagster's executors, committed once.

    events = sharded_artifact_assets("events", read_part, num_parts=8)   # read_part(part, num_parts) -> tf.data.Dataset
    Definitions(assets=events.assets, asset_checks=events.checks, resources=io_managers(base_dir), executor=...)

Two assets and the usual checks:

- `<name>_parts`: static-partitioned, one partition per part. Each partition's run writes its part
  (`dataset_assets.save_part`) straight into the artifact's next version, so a backfill of the
  partitions writes the parts in parallel, on whatever runs Dagster's steps (the multiprocess
  executor, dagster-dask, Celery, Kubernetes): nothing here schedules work. A failed part is
  retried alone (`op_retry_policy`, or re-materialize that partition).
- `<name>`: depends on every partition of the parts, joins them into one version and commits it
  (`dataset_assets.commit_parts`); refuses, naming the parts, while one is missing or damaged.
  Stored by the format's `DatasetIOManager`, so downstream assets load it as a `tf.data.Dataset`.
- Blocking `integrity` and `round_trip` checks on `<name>`; the round trip compares the artifact
  with the parts' sources concatenated in part order.

The parts' data comes from `source(part, num_parts)`: for example a slice of a list of input files
(`dataset_assets.parts.split(files, part, num_parts)`), or `dataset.shard(num_parts, part)` when
that is cheap (every worker then reads the whole source to keep its share).
"""

from collections.abc import Callable, Sequence

import tensorflow as tf
from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    StaticPartitionsDefinition,
    asset,
    asset_check,
)

from .. import parts as library
from ..storage.parts import MAX_PARTS, part_name
from .artifacts import ArtifactDefs
from .checks import integrity_check, round_trip_result
from .io_managers import io_manager_key as format_io_manager_key
from .metadata import manifest_metadata

WRITE = "dagster"  # the name of the open write the parts join (`save_part(write=...)`)


def sharded_artifact_assets(
    name: str,
    source: Callable[[int, int], tf.data.Dataset],
    num_parts: int,
    *,
    format: str = "tfrecord",
    io_manager_key: str | None = None,
    key_prefix: Sequence[str] = (),
    group_name: str | None = "artifacts",
    deps: Sequence = (),
    retry_policy: RetryPolicy | None = RetryPolicy(max_retries=2),
    description: str | None = None,
) -> ArtifactDefs:
    """The parts asset, the commit asset `name` and its checks, for an artifact written in `num_parts` parts.

    `source(part, num_parts)` returns the dataset of one part (the same element_spec for every
    part). `format`: one that can be written in parts (`dataset_assets.parts.part_formats()`);
    the artifact is stored by the `<format>_io_manager` resource (or `io_manager_key`), whose
    `base_dir`, `format_options` and `keep` apply. `deps`: the assets the source reads, for lineage.
    """
    if format not in library.part_formats():
        raise ValueError(f"format {format!r} cannot be written in parts; choose one of {', '.join(library.part_formats())}")
    if isinstance(num_parts, bool) or not isinstance(num_parts, int) or not 1 <= num_parts <= MAX_PARTS:
        raise ValueError(f"num_parts={num_parts!r}: give an int from 1 to 99,999")
    if not callable(source):
        raise TypeError(f"source must be a function (part, num_parts) -> tf.data.Dataset, not {source!r}")
    io_key = io_manager_key or format_io_manager_key(format)
    key = AssetKey([*key_prefix, name])
    parts_key = AssetKey([*key_prefix, f"{name}_parts"])
    keys = [part_name(i, num_parts) for i in range(num_parts)]
    partitions = StaticPartitionsDefinition(keys)

    @asset(
        key=parts_key,
        partitions_def=partitions,
        required_resource_keys={io_key},
        deps=list(deps),
        group_name=group_name,
        retry_policy=retry_policy,
        kinds={"tensorflow"},
        tags={"format": format},
        description=f"The {num_parts} parts of {key.to_user_string()}, one per partition, each written by its own run with dataset_assets.save_part.",
    )
    def _parts(context: AssetExecutionContext) -> MaterializeResult:
        part = keys.index(context.partition_key)
        store = getattr(context.resources, io_key)
        path = store.artifact_dir(key)
        context.log.info("writing part %d of %d of %s to %s", part, num_parts, key.to_user_string(), path)
        manifest = library.save_part(
            source(part, num_parts), path, part=part, num_parts=num_parts, format=store.format, overwrite=True, write=WRITE, **store.format_options
        )
        return MaterializeResult(
            metadata={
                "part": part,
                "num_elements": manifest.num_elements,
                "bytes_on_disk": manifest.total_bytes,
                "fingerprint": manifest.fingerprint,
                "write_seconds": round(manifest.write_seconds, 4),
                "path": MetadataValue.path(str(path)),
            }
        )

    @asset(
        key=key,
        deps=[parts_key],  # every partition of the parts (Dagster's default mapping from a partitioned upstream)
        io_manager_key=io_key,
        group_name=group_name,
        kinds={"tensorflow"},
        tags={"format": format},
        description=description or f"{key.to_user_string()}: its {num_parts} parts joined into one version and committed with dataset_assets.commit_parts.",
    )
    def _commit(context: AssetExecutionContext) -> MaterializeResult:
        store = getattr(context.resources, io_key)
        path = store.artifact_dir(key)
        manifest = library.commit_parts(path, num_parts, write=WRITE, keep=store.keep)
        context.log.info("committed version %s of %s: %d elements in %d parts", manifest.version, path, manifest.num_elements, num_parts)
        metadata = {**manifest_metadata(manifest, manifest.spec), "num_parts": num_parts, "path": MetadataValue.path(str(path))}
        return MaterializeResult(metadata=metadata, data_version=DataVersion(manifest.fingerprint))

    @asset_check(
        asset=key,
        name="round_trip",
        blocking=True,
        required_resource_keys={io_key},
        description=f"{key.to_user_string()} loaded from storage equals its {num_parts} parts' sources concatenated: element_spec, count, fingerprint, every element.",
    )
    def _round_trip(context: AssetCheckExecutionContext):
        reference = source(0, num_parts)
        for part in range(1, num_parts):
            reference = reference.concatenate(source(part, num_parts))
        return round_trip_result(context, key, io_key, None, reference)

    return ArtifactDefs(assets=[_parts, _commit], checks=[_round_trip, integrity_check(_commit)])
