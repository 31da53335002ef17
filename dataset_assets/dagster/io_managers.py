"""`DatasetIOManager`: tf.data.Dataset values stored as dataset_assets artifacts, never pickled.

One class on Dagster's `UPathIOManager`, configured by `format` and `format_options`, with a thin
subclass per format whose default is that format. An asset's artifact is `<base_dir>/<asset key>`
(a local folder or a prefix on any fsspec store); a partition's is `<base_dir>/<asset key>/<partition>`
(multi-partitions: one folder per dimension, in dimension-name order). Each materialization
commits a new version with `dataset_assets.save(..., overwrite=True)`: a failed write leaves the
current version as it was. An input of several partitions is **one** dataset: the partitions in
order (or interleaved), the element_spec of every partition checked first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import tensorflow as tf
from dagster import (
    ConfigurableIOManager,
    DagsterInvariantViolationError,
    DataVersion,
    InitResourceContext,
    InputContext,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    OutputContext,
    UPathIOManager,
)
from pydantic import Field, PrivateAttr
from upath import UPath

from .. import api
from ..api import DEFAULT_KEEP
from ..errors import UnsupportedDatasetError
from ..formats import FORMATS
from ..home import artifact_base
from ..partitions import combine
from .metadata import manifest_metadata
from .previews import preview_metadata

INTERLEAVE = "interleave_partitions"  # input metadata: AssetIn(metadata={"interleave_partitions": True})


def partition_path(partition_key: str, partitions_def=None) -> str:
    """The folder of a partition below its asset's, as `UPathIOManager` lays it out ("a|b" -> "a/b", dimensions by name)."""
    if not isinstance(partition_key, MultiPartitionKey) and isinstance(partitions_def, MultiPartitionsDefinition):
        partition_key = partitions_def.get_partition_key_from_str(partition_key)
    if isinstance(partition_key, MultiPartitionKey):
        return "/".join(value for _, value in sorted(partition_key.keys_by_dimension.items()))
    return partition_key


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
    keep: int = Field(default=DEFAULT_KEEP, description="Committed versions retained per asset (per partition); older ones are deleted after each commit.")
    preview_rows: int = Field(default=5, description="Elements shown in the Markdown preview of each materialization, spread over the dataset.")
    interleave_partitions: bool = Field(
        default=False,
        description="An input of several partitions: False = the partitions one after another in partition-key order, "
        "True = interleaved element by element. Per input: AssetIn(metadata={'interleave_partitions': True}).",
    )

    _base_path: UPath = PrivateAttr()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.format not in FORMATS:
            raise UnsupportedDatasetError(f"DatasetIOManager format {self.format!r} is unknown; choose one of {', '.join(FORMATS)}")
        self._base_path = UPath(self.resolved_base_dir())

    def resolved_base_dir(self) -> Path | UPath:
        # resolved at run time, so DATASET_ASSETS_HOME set after import still applies
        return artifact_base(self.base_dir, self.fs_options)

    def artifact_dir(self, asset_key, partition_key: str | None = None, partitions_def=None) -> Path | UPath:
        """Where the artifact of `asset_key` (of its partition `partition_key`) lives."""
        path = self.resolved_base_dir().joinpath(*asset_key.path)
        if partition_key is None:
            return path
        return path.joinpath(*partition_path(partition_key, partitions_def).split("/"))

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        if not isinstance(obj, tf.data.Dataset):
            raise UnsupportedDatasetError(
                f"asset {context.asset_key.to_user_string()} returned a {type(obj).__name__}; "
                "DatasetIOManager stores tf.data.Dataset values only"
            )
        manifest = api.save(obj, path, format=self.format, overwrite=True, keep=self.keep, **self.format_options)
        context.add_output_metadata(
            {
                **manifest_metadata(manifest, obj.element_spec),
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
        if not path.exists():
            # FileNotFoundError: what UPathIOManager skips for an input with allow_missing_partitions
            what = f"partition of {context.asset_key.to_user_string()}" if context.has_asset_partitions else context.asset_key.to_user_string()
            raise FileNotFoundError(
                f"{path}: no artifact of this {what}; materialize it first "
                "(or give the input AssetIn(metadata={'allow_missing_partitions': True}) to skip missing partitions)"
            )
        return api.load(path)

    def load_input(self, context: InputContext) -> Any:
        value = super().load_input(context)
        if not isinstance(value, dict) or _wants_dict(context):
            return value
        # several partitions: one dataset, in the order Dagster lists them (the partitions definition's order)
        interleave = bool(context.definition_metadata.get(INTERLEAVE, self.interleave_partitions))
        return combine(value, interleave, what=context.asset_key.to_user_string())


def _wants_dict(context: InputContext) -> bool:
    """An input annotated as a dict (`dict[str, tf.data.Dataset]`) gets the partitions by key, as UPathIOManager gives them."""
    typing_type = context.dagster_type.typing_type
    return typing_type is dict or getattr(typing_type, "__origin__", None) is dict


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


def io_manager_key(fmt: str) -> str:
    """The resource key the artifact factory stores a format under: "tfrecord" -> "tfrecord_io_manager"."""
    return f"{fmt}_io_manager"


def io_managers(base_dir: str | None = None, formats=FORMATS, **config) -> dict[str, DatasetIOManager]:
    """`{"<format>_io_manager": <Format>IOManager(base_dir=..., **config)}` for `formats`: the resources the factory's assets use."""
    return {io_manager_key(fmt): IO_MANAGERS[fmt](base_dir=base_dir, **config) for fmt in formats}
