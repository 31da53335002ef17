"""What a materialization or a check records about a dataset: its schema and the manifest's facts.

The pictures and tables of the elements themselves are in `previews`.
"""

from __future__ import annotations

import tensorflow as tf
from dagster import TableColumn, TableSchema

from ..manifest import Manifest
from ..spec import leaf_paths


def element_spec_schema(spec) -> TableSchema:
    """One column per leaf of the element_spec: name = leaf path, type = dtype[shape]."""
    columns = []
    for path, leaf in leaf_paths(spec):
        shape = leaf.shape.as_list()
        kind = f"{leaf.dtype.name}{shape if shape else ''}"
        desc = f"ragged (ragged_rank {leaf.ragged_rank})" if isinstance(leaf, tf.RaggedTensorSpec) else None
        columns.append(TableColumn(name=path or "(element)", type=kind, description=desc))
    return TableSchema(columns=columns)


def manifest_metadata(manifest: Manifest, element_spec) -> dict:
    """The facts of a written version: format, size, fingerprint, version, schema and write speed."""
    secs = max(manifest.write_seconds, 1e-9)
    return {
        "format": manifest.format,
        "num_elements": manifest.num_elements,
        "dagster/row_count": manifest.num_elements,
        "bytes_on_disk": manifest.total_bytes,
        "fingerprint": manifest.fingerprint,
        "version": manifest.version,
        "dagster/column_schema": element_spec_schema(element_spec),
        "write_seconds": round(manifest.write_seconds, 4),
        "elements_per_second": round(manifest.num_elements / secs, 1),
        "megabytes_per_second": round(manifest.total_bytes / 1e6 / secs, 2),
    }

