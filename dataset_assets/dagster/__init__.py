"""Dagster integration for your own datasets: `from dataset_assets.dagster import ...`.

- IO managers: `DatasetIOManager` (on Dagster's `UPathIOManager`) and one subclass per format
  (`NpyIOManager`, `Hdf5IOManager`, `PathlistIOManager`, `TFRecordIOManager`, `TFDataIOManager`);
  `io_managers(base_dir)` makes the `<format>_io_manager` resources. Partitions are artifacts of
  their own; an input of several partitions is one dataset.
- `artifact_assets(asset, formats)`: artifact assets of any asset that returns a `tf.data.Dataset`,
  with their blocking `round_trip` and `integrity` checks (per partition).
- `sharded_artifact_assets(name, source, num_parts)`: one artifact written in parallel parts (a
  static-partitioned asset, one partition per part, on any Dagster executor) and committed once.
- Check builders: `integrity_check`, `round_trip_check` (`round_trip_result` for checks of your own).
- Automation: `ARTIFACT_AUTOMATION` (eager on data versions, after upstream blocking checks).
- Metadata: `element_spec_schema`, `manifest_metadata`; previews of the elements (thumbnails, class
  counts, statistics, a spread-out table): `preview_metadata`, `preview_markdown`.

Importing this module defines nothing in a code location and reads no file.
"""

from .artifacts import ArtifactDefs, artifact_assets
from .automation import ARTIFACT_AUTOMATION, CHECK_AUTOMATION, DATA_VERSION_EAGER
from .checks import integrity_check, round_trip_check, round_trip_result
from .io_managers import (
    INTERLEAVE,
    IO_MANAGERS,
    DatasetIOManager,
    Hdf5IOManager,
    NpyIOManager,
    PathlistIOManager,
    TFDataIOManager,
    TFRecordIOManager,
    io_manager_key,
    io_managers,
    partition_path,
)
from .metadata import element_spec_schema, manifest_metadata
from .parts import sharded_artifact_assets
from .previews import preview_markdown, preview_metadata

__all__ = [
    "ARTIFACT_AUTOMATION",
    "CHECK_AUTOMATION",
    "DATA_VERSION_EAGER",
    "INTERLEAVE",
    "IO_MANAGERS",
    "ArtifactDefs",
    "DatasetIOManager",
    "Hdf5IOManager",
    "NpyIOManager",
    "PathlistIOManager",
    "TFDataIOManager",
    "TFRecordIOManager",
    "artifact_assets",
    "element_spec_schema",
    "integrity_check",
    "io_manager_key",
    "io_managers",
    "manifest_metadata",
    "partition_path",
    "preview_markdown",
    "preview_metadata",
    "round_trip_check",
    "round_trip_result",
    "sharded_artifact_assets",
]
