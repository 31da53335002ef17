"""What a materialization or a check records about a dataset: schema, preview, the manifest's facts.

`preview_markdown` is the one place that renders elements for the UI; everything that shows a
preview (IO managers, pipeline assets) calls it.
"""

from __future__ import annotations

import numpy as np
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


def _cell(value) -> str:
    if isinstance(value, tf.RaggedTensor):
        text = str(value.to_list())
    else:
        arr = np.asarray(value)
        if arr.dtype == object:  # tf.string
            items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)[:4]]
            text = items[0] if arr.ndim == 0 else str(items) + (" …" if arr.size > 4 else "")
        elif arr.ndim == 0:
            text = f"{arr.item():.6g}" if arr.dtype.kind == "f" else str(arr.item())
        else:
            flat = arr.reshape(-1)
            head = ", ".join(f"{v:.4g}" if arr.dtype.kind == "f" else str(v) for v in flat[:6])
            text = f"{arr.dtype.name}{list(arr.shape)} [{head}{', …' if flat.size > 6 else ''}]"
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


def preview_markdown(dataset: tf.data.Dataset, rows: int = 5) -> str:
    """The first `rows` elements as a Markdown table, one column per leaf."""
    names = [p or "(element)" for p, _ in leaf_paths(dataset.element_spec)]
    lines = ["| # | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for i, element in enumerate(dataset.take(rows)):
        leaves = tf.nest.flatten(element, expand_composites=False)
        lines.append(f"| {i} | " + " | ".join(_cell(v) for v in leaves) + " |")
    return "\n".join(lines)


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

