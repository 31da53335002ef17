"""What a materialization shows in Dagster's UI: sample thumbnails, class counts, leaf statistics, a spread-out preview.

`preview_metadata(dataset)` makes one batched pass over the (saved) dataset for the statistics and the
labels, then one filtered pass that fetches the few elements shown: no per-element Python.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import tensorflow as tf
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from ..spec import leaf_paths

LABEL_WORDS = ("label", "class", "target", "species", "digit", "y")
PER_CLASS, MAX_CLASSES, UNLABELLED = 4, 10, 16
BATCH_BYTES = 32 << 20


def leaf_names(spec) -> list[str]:
    """Readable names per leaf: dict keys as they are, tuple positions as `[i]`; an (image, label) pair as `image [0]`, `label [1]`."""
    names = []
    for path, leaf in leaf_paths(spec):
        parts = path.split("/")
        names.append("/".join(f"[{p}]" if p.isdigit() else p for p in parts) if path != "value" else "(element)")
    if isinstance(spec, tuple) and not hasattr(spec, "_fields") and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec):
        if _is_image(spec[0]) and _is_label(spec[1]):
            names = ["image [0]", "label [1]"]
    return names


def _is_image(leaf) -> bool:
    shape = leaf.shape
    return (
        isinstance(leaf, tf.TensorSpec) and leaf.dtype == tf.uint8 and shape.rank == 3
        and shape[-1] in (1, 3, 4) and shape[0] is not None and shape[1] is not None
    )


def _is_label(leaf) -> bool:
    return isinstance(leaf, tf.TensorSpec) and leaf.shape.rank == 0 and (leaf.dtype.is_integer or leaf.dtype == tf.string)


def _fixed_numeric(leaf) -> bool:
    return isinstance(leaf, tf.TensorSpec) and leaf.shape.is_fully_defined() and (leaf.dtype.is_integer or leaf.dtype.is_floating or leaf.dtype == tf.bool)


def _flat(dataset: tf.data.Dataset, picks: list[int]) -> tf.data.Dataset:
    """The dataset's leaves number `picks` only, as a tuple (tf.data unpacks a tuple element into arguments)."""

    def select(*args):
        leaves = tf.nest.flatten(args[0] if len(args) == 1 else args, expand_composites=False)
        return tuple([tf.constant(0, tf.int8)] + [leaves[i] for i in picks])  # the constant counts elements

    return dataset.map(tf.autograph.experimental.do_not_convert(select), num_parallel_calls=tf.data.AUTOTUNE)


def _scan(dataset, spec_leaves, label: int | None):
    """(element count, {leaf: statistics}, labels array or None), in batches."""
    numeric = [i for i, leaf in enumerate(spec_leaves) if _fixed_numeric(leaf) and i != label]
    picks = numeric + ([label] if label is not None else [])
    row_bytes = sum(int(np.prod(spec_leaves[i].shape.as_list() or [1])) * max(spec_leaves[i].dtype.size, 1) for i in picks) or 1
    batch = int(max(1, min(65536, BATCH_BYTES // row_bytes)))
    count, acc, labels = 0, {i: [np.inf, -np.inf, 0.0, 0, 0] for i in numeric}, []
    for columns in _flat(dataset, picks).batch(batch).as_numpy_iterator():
        count += len(columns[0])
        for i, values in zip(numeric, columns[1 : 1 + len(numeric)]):
            a = acc[i]
            values = values.astype(np.float64).reshape(-1)
            nan = np.isnan(values)
            a[3] += int(nan.sum())
            good = values[~nan]
            if good.size:
                a[0], a[1], a[2], a[4] = min(a[0], good.min()), max(a[1], good.max()), a[2] + good.sum(), a[4] + good.size
        if label is not None:
            labels.append(columns[-1])
    stats = {i: {"min": a[0], "max": a[1], "mean": a[2] / a[4], "nan_count": a[3]} if a[4] else {"min": None, "max": None, "mean": None, "nan_count": a[3]} for i, a in acc.items()}
    return count, stats, (np.concatenate(labels) if labels else None)


def _fetch(dataset: tf.data.Dataset, indices) -> dict[int, list]:
    """The elements at `indices` (their flat leaves, as tensors), in one filtered pass."""
    wanted = tf.constant(sorted(set(int(i) for i in indices)), tf.int64)
    if wanted.shape[0] == 0:
        return {}
    keep = tf.autograph.experimental.do_not_convert(lambda i, element: tf.reduce_any(tf.equal(i, wanted)))
    out = {}
    for i, element in dataset.enumerate().filter(keep).take(int(wanted.shape[0])):
        out[int(i)] = tf.nest.flatten(element, expand_composites=False)
    return out


def _spread(positions: np.ndarray, k: int) -> list[int]:
    if len(positions) <= k:
        return [int(p) for p in positions]
    return [int(positions[j]) for j in np.unique(np.linspace(0, len(positions) - 1, k).round().astype(int))]


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


def _label_text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def thumbnail_grid(rows: list[tuple[str, list[np.ndarray]]], cell: int = 48) -> bytes:
    """A PNG with one row of thumbnails per (caption, images); images are uint8 H x W x C, scaled up by whole pixels."""
    from PIL import Image, ImageDraw

    h, w = rows[0][1][0].shape[:2]
    scale = max(1, cell // max(h, w))
    th, tw, pad, caption = h * scale, w * scale, 4, 56
    columns = max(len(images) for _, images in rows)
    grid = Image.new("RGB", (caption + columns * (tw + pad) + pad, len(rows) * (th + pad) + pad), "white")
    draw = ImageDraw.Draw(grid)
    for r, (text, images) in enumerate(rows):
        y = pad + r * (th + pad)
        draw.text((pad, y + th // 2 - 6), text[:8], fill="black")
        for c, image in enumerate(images):
            pixels = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
            mode = {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[-1]]
            thumb = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).convert("RGB")
            grid.paste(thumb, (caption + pad + c * (tw + pad), y))
    out = io.BytesIO()
    grid.save(out, format="PNG", optimize=True)
    return out.getvalue()


def preview_markdown(dataset: tf.data.Dataset, rows: int = 5) -> str:
    """`rows` elements spread over the dataset, with their index, as a Markdown table (one column per leaf)."""
    return preview_metadata(dataset, rows, summaries=False)["preview"].value


def preview_metadata(dataset: tf.data.Dataset, rows: int = 5, summaries: bool = True) -> dict:
    """Metadata entries: `preview` always; with `summaries`, `samples` (thumbnails) for an image leaf,
    `class_counts` for a label leaf and `statistics` for the fixed-shape numeric leaves."""
    spec_leaves = [leaf for _, leaf in leaf_paths(dataset.element_spec)]
    names = leaf_names(dataset.element_spec)
    image = next((i for i, leaf in enumerate(spec_leaves) if _is_image(leaf)), None)
    labels_at = [i for i, leaf in enumerate(spec_leaves) if _is_label(leaf)]
    label = next((i for i in labels_at if any(w in names[i].lower() for w in LABEL_WORDS)), None)
    if label is None and image is not None and len(labels_at) == 1:
        label = labels_at[0]
    n = int(dataset.cardinality())
    stats, labels = {}, None
    if summaries or n < 0:
        n, stats, labels = _scan(dataset, spec_leaves, label if summaries else None)
    shown = _spread(np.arange(n), rows)
    groups: list[tuple[str, list[int]]] = []
    if summaries and image is not None:
        if labels is not None:
            classes = np.unique(labels)[:MAX_CLASSES]
            groups = [(_label_text(c), _spread(np.flatnonzero(labels == c), PER_CLASS)) for c in classes]
        else:
            groups = [("", _spread(np.arange(n), UNLABELLED))]
    elements = _fetch(dataset, shown + [i for _, g in groups for i in g])

    lines = ["| # | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for i in shown:
        lines.append(f"| {i} | " + " | ".join(_cell(v) for v in elements[i]) + " |")
    metadata = {"preview": MetadataValue.md("\n".join(lines))}
    if not summaries:
        return metadata
    if groups:
        picture = thumbnail_grid([(text, [np.asarray(elements[i][image]) for i in g]) for text, g in groups])
        where = "; ".join(f"{text or 'elements'}: {', '.join(map(str, g))}" for text, g in groups)
        uri = "data:image/png;base64," + base64.b64encode(picture).decode()
        caption = f"{names[image]}: {PER_CLASS} per class of {names[label]}, spread over the dataset" if labels is not None else f"{names[image]}, spread over the dataset"
        metadata["samples"] = MetadataValue.md(f"![sample thumbnails]({uri})\n\n{caption} (elements {where})")
    if labels is not None:
        values, counts = np.unique(labels, return_counts=True)
        metadata["class_counts"] = MetadataValue.table(
            records=[TableRecord({"class": _label_text(v), "count": int(c)}) for v, c in zip(values, counts)],
            schema=TableSchema(columns=[TableColumn("class", "string", description=names[label]), TableColumn("count", "int")]),
        )
    if stats:
        metadata["statistics"] = MetadataValue.table(
            records=[
                TableRecord({"leaf": names[i], "dtype": spec_leaves[i].dtype.name, **{k: (None if v is None else round(float(v), 6)) for k, v in s.items() if k != "nan_count"}, "nan_count": int(s["nan_count"])})
                for i, s in stats.items()
            ],
            schema=TableSchema(columns=[
                TableColumn("leaf", "string"), TableColumn("dtype", "string"), TableColumn("min", "float"),
                TableColumn("max", "float"), TableColumn("mean", "float"), TableColumn("nan_count", "int"),
            ]),
        )
    return metadata
