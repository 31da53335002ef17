"""What a materialization shows in the UI: thumbnails per class, class counts, statistics, a spread-out preview."""

import base64
import io
import re

import numpy as np
import tensorflow as tf
from PIL import Image

from dataset_assets.dagster.previews import leaf_names, preview_metadata


def digits(n=100, classes=10):
    """Class-sorted like the shipped image data; every image a flat grey of its element index, so it can be found again."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None] * 2, (n, 8, 8, 1)).copy()
    labels = np.repeat(np.arange(classes), n // classes).astype(np.int64)
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})


def test_thumbnails_show_a_few_images_of_every_class_spread_over_the_dataset():
    meta = preview_metadata(digits())
    text = meta["samples"].value
    uri = re.search(r"!\[sample thumbnails\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert uri, text[:200]
    grid = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.group(1)))).convert("L"))
    # 10 rows (classes) of 4 thumbnails, each 8x8 scaled by 6 to 48x48, 4 px apart, after a 56 px caption
    assert grid.shape == (10 * 52 + 4, 56 + 4 * 52 + 4)
    for row, cls in enumerate(range(10)):
        expected = [cls * 10 + k for k in (0, 3, 6, 9)]  # spread over the class, not its first four
        assert f"{cls}: {', '.join(map(str, expected))}" in text
        for col, index in enumerate(expected):
            y, x = 4 + row * 52, 56 + 4 + col * 52
            assert (grid[y : y + 48, x : x + 48] == index * 2).all(), (cls, index)


def test_class_counts_statistics_and_a_preview_spread_over_the_dataset():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    x[7, 1] = np.nan
    ds = tf.data.Dataset.from_tensor_slices({"x": x, "species": np.array([b"a"] * 20 + [b"b"] * 30), "n": np.arange(50)})
    meta = preview_metadata(ds, rows=5)
    assert "samples" not in meta  # no image leaf
    counts = {r.data["class"]: r.data["count"] for r in meta["class_counts"].records}
    assert counts == {"a": 20, "b": 30}
    stats = {r.data["leaf"]: r.data for r in meta["statistics"].records}
    good = x[~np.isnan(x)]
    assert stats["x"]["nan_count"] == 1 and np.isclose(stats["x"]["mean"], good.mean(), atol=1e-5)
    assert np.isclose(stats["x"]["min"], good.min()) and np.isclose(stats["x"]["max"], good.max())
    assert stats["n"] == {"leaf": "n", "dtype": "int64", "min": 0.0, "max": 49.0, "mean": 24.5, "nan_count": 0}
    lines = meta["preview"].value.splitlines()
    assert lines[0] == "| # | n | species | x |"
    assert [int(line.split("|")[1]) for line in lines[2:]] == [0, 12, 24, 37, 49]
    assert lines[3].startswith("| 12 | 12 | a | float32[3]")


def test_tuple_leaves_get_readable_names():
    pair = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), np.uint8), np.arange(4)))
    assert leaf_names(pair.element_spec) == ["image [0]", "label [1]"]
    meta = preview_metadata(pair)
    assert meta["preview"].value.startswith("| # | image [0] | label [1] |") and "samples" in meta
    triple = tf.data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(3), {"a": np.zeros(3)}))
    assert leaf_names(triple.element_spec) == ["[0]", "[1]", "[2]/a"]
