"""The text of `index.csv`, both ways: label and path columns to CSV text, and CSV text back to tensors.

The CSV is lossless: integers in decimal, floats as the shortest repr of their float64
value (float16/32/bfloat16 widen exactly), booleans as 0/1, vectors space separated, and
each string column either UTF-8 (when every value is valid UTF-8 without NUL) or
URL-safe base64; the column -> feature mapping, dtypes and encodings are in
``manifest.details["columns"]``. `write_table` and `read_table` are the matching file
dialects (excel-style rows written with `csv`, read back by pandas as plain strings).
"""

from __future__ import annotations

import base64
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from ...errors import ArtifactError

VECTOR_SEPARATOR = " "


def split_strings(batch: dict, col) -> list[bytes]:
    """A string column of a stream batch as one bytes value per element."""
    data = batch[col.key("values")].tobytes()
    ends = np.cumsum(batch[col.key("lengths")]).tolist()
    return [data[a:b] for a, b in zip([0] + ends[:-1], ends)]


def to_text(col, batch: dict):
    """One CSV chunk for a label column: bytes per element for strings, exact decimal text otherwise."""
    if col.is_string:
        return split_strings(batch, col)
    v = batch[col.key("values")]
    if col.dtype == tf.bfloat16:
        v = (v.astype(np.uint32) << 16).view(np.float32)
    if v.dtype.kind == "f":
        v = v.astype(np.float64)  # exact widening; float64's shortest repr round-trips
    elif v.dtype.kind == "b":
        v = v.astype(np.uint8)
    text = v.astype(str)
    if text.ndim == 1:
        return text.tolist()
    return [VECTOR_SEPARATOR.join(row) for row in text.tolist()]


def column_text(col, chunks: list[list]) -> tuple[list[str], str]:
    """A label column's whole text from its `to_text` chunks, and its encoding for the manifest."""
    values = [v for chunk in chunks for v in chunk]
    return string_column(values) if col.is_string else (values, "decimal")


def string_column(values: list[bytes]) -> tuple[list[str], str]:
    try:
        text = [b.decode("utf-8") for b in values]
        if not any("\x00" in s for s in text):
            return text, "utf-8"
    except UnicodeDecodeError:
        pass
    return [base64.urlsafe_b64encode(b).decode("ascii") for b in values], "base64"


def write_table(path: Path, header: list[str], columns: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)  # excel dialect: \r\n rows, so any \r or \n inside a value gets quoted
        writer.writerow(header)
        writer.writerows(zip(*columns))


def read_table(source, list_path: Path) -> pd.DataFrame:
    """Every cell of the list read from `source` (its checked bytes) as the exact string written (no NA guessing, blank lines kept)."""
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ArtifactError(f"{list_path} is not a readable list ({e}); re-create the artifact with save()") from e


def parse(text: pd.Series, info: dict, spec, list_path: Path) -> tf.Tensor:
    """A label (or as-given path) column's text back to the tensor of its feature."""
    where = f"{list_path}, column {info['name']!r}"
    try:
        if spec.dtype == tf.string:
            values = tf.constant(text.to_numpy(dtype=object), tf.string)
            return tf.io.decode_base64(values) if info["encoding"] == "base64" else values
        shape = spec.shape.as_list()
        raw = text.to_numpy(dtype=str)
        if shape:
            k = shape[0]
            parts = np.array([s.split(VECTOR_SEPARATOR) if k else [] for s in raw.tolist()], dtype=str).reshape(len(raw), k)
            raw = parts
        if spec.dtype.is_bool:
            return tf.constant(raw.astype(np.uint8) != 0)
        target = spec.dtype.as_numpy_dtype
        if spec.dtype.is_floating:  # cast in numpy: TF's casts flush subnormals to zero
            wide = raw.astype(np.float64)
            return tf.constant((wide.astype(np.float32) if spec.dtype == tf.bfloat16 else wide).astype(target))
        return tf.constant(raw.astype(target))
    except (ValueError, OverflowError, tf.errors.InvalidArgumentError) as e:
        reason = str(e).splitlines()[0][:200]
        raise ArtifactError(f"{where} holds a value that is not a {spec.dtype.name} ({reason}); re-create the artifact with save()") from e
