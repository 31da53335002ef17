"""`DatasetIOManager`: tf.data.Dataset values stored as dataset_assets artifacts, never pickled.

One class, configured by `format` and `format_options` (with a thin subclass per format whose
default is that format); each asset's artifact is the directory
`<base_dir>/<asset key>`, a local folder or a prefix on any fsspec store (`s3://bucket/prefix`,
`memory://...`): each materialization commits a new version with `dataset_assets.save(..., overwrite=True)`
(a failed write leaves the current version as it was) and inputs are read back with `dataset_assets.load`.
"""

from pathlib import Path
from typing import Any, Optional

import tensorflow as tf
from dagster import (
    ConfigurableIOManager,
    DagsterInvariantViolationError,
    DataVersion,
    InitResourceContext,
    InputContext,
    OutputContext,
    TableColumn,
    TableSchema,
    UPathIOManager,
)
from pydantic import Field, PrivateAttr
from upath import UPath

from .. import api
from ..api import DEFAULT_KEEP
from ..errors import UnsupportedDatasetError
from ..formats import FORMATS
from ..home import artifact_base
from ..spec import leaf_paths
from .previews import preview_markdown, preview_metadata  # noqa: F401 (preview_markdown: used by defs.recipes)


class DatasetIOManager(ConfigurableIOManager, UPathIOManager):
    """Saves each output with `dataset_assets.save` in `format`; loads inputs with `dataset_assets.load`."""

    format: str = Field(default="npy", description=f"One of {', '.join(FORMATS)}.")
    format_options: dict[str, Any] = Field(default_factory=dict, description="Keyword options of the format, passed to save().")
    base_dir: Optional[str] = Field(
        default=None, description="Folder or URL (s3://bucket/prefix, gs://..., memory://...) of the artifacts; unset: <DATASET_ASSETS_HOME>/artifacts."
    )
    # not `storage_options`: UPathIOManager has a property of that name (the base path's options, which these become)
    fs_options: dict[str, Any] = Field(
        default_factory=dict, description="fsspec storage options of a URL base_dir (endpoint_url, key, secret, ...); unset: from the environment."
    )
    keep: int = Field(default=DEFAULT_KEEP, description="Committed versions retained per asset; older ones are deleted after each commit.")
    preview_rows: int = Field(default=5, description="Elements shown in the Markdown preview of each materialization, spread over the dataset.")

    _base_path: UPath = PrivateAttr()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.format not in FORMATS:
            raise UnsupportedDatasetError(f"DatasetIOManager format {self.format!r} is unknown; choose one of {', '.join(FORMATS)}")
        self._base_path = UPath(self.resolved_base_dir())

    def resolved_base_dir(self) -> Path | UPath:
        # resolved at run time, so DATASET_ASSETS_HOME set after import still applies
        return artifact_base(self.base_dir, self.fs_options)

    def artifact_dir(self, asset_key) -> Path | UPath:
        return self.resolved_base_dir().joinpath(*asset_key.path)

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        if not isinstance(obj, tf.data.Dataset):
            raise UnsupportedDatasetError(
                f"asset {context.asset_key.to_user_string()} returned a {type(obj).__name__}; "
                "DatasetIOManager stores tf.data.Dataset values only"
            )
        manifest = api.save(obj, path, format=self.format, overwrite=True, keep=self.keep, **self.format_options)
        secs = max(manifest.write_seconds, 1e-9)
        context.add_output_metadata(
            {
                "format": manifest.format,
                "num_elements": manifest.num_elements,
                "dagster/row_count": manifest.num_elements,
                "bytes_on_disk": manifest.total_bytes,
                "fingerprint": manifest.fingerprint,
                "version": manifest.version,
                "dagster/column_schema": element_spec_schema(obj.element_spec),
                "write_seconds": round(manifest.write_seconds, 4),
                "elements_per_second": round(manifest.num_elements / secs, 1),
                "megabytes_per_second": round(manifest.total_bytes / 1e6 / secs, 2),
                **preview_metadata(api.load(path, version=manifest.version), self.preview_rows),
            }
        )
        # The content fingerprint is the data version, so an unchanged rewrite does not make
        # downstream stale; it is only known once written, hence set here rather than by the asset.
        if context.has_asset_key:
            try:
                step = context.step_context
            except DagsterInvariantViolationError:  # an output context built outside a run
                return
            step.set_data_version(context.asset_key, DataVersion(manifest.fingerprint))

    def load_from_path(self, context: InputContext, path: UPath) -> tf.data.Dataset:
        return api.load(path)



# One subclass per format, so the format is the class default: Dagster run config for a resource
# replaces its bound values, and must not silently switch e.g. the tfrecord store to npy.
class NpyIOManager(DatasetIOManager):
    format: str = "npy"


class Hdf5IOManager(DatasetIOManager):
    format: str = "hdf5"


class PathlistIOManager(DatasetIOManager):
    format: str = "pathlist"


class TFRecordIOManager(DatasetIOManager):
    format: str = "tfrecord"


class TFDataIOManager(DatasetIOManager):
    format: str = "tfdata"


IO_MANAGERS: dict[str, type[DatasetIOManager]] = {
    "npy": NpyIOManager,
    "hdf5": Hdf5IOManager,
    "pathlist": PathlistIOManager,
    "tfrecord": TFRecordIOManager,
    "tfdata": TFDataIOManager,
}

def element_spec_schema(spec) -> TableSchema:
    """One column per leaf of the element_spec: name = leaf path, type = dtype[shape]."""
    columns = []
    for path, leaf in leaf_paths(spec):
        shape = leaf.shape.as_list()
        kind = f"{leaf.dtype.name}{shape if shape else ''}"
        desc = f"ragged (ragged_rank {leaf.ragged_rank})" if isinstance(leaf, tf.RaggedTensorSpec) else None
        columns.append(TableColumn(name=path or "(element)", type=kind, description=desc))
    return TableSchema(columns=columns)
