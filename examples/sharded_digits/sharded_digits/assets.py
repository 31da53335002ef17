"""The digit images of data/raw/images, written as one tfrecord artifact in parts, one run per part."""

import os
from pathlib import Path

from dataset_assets.dagster import sharded_artifact_assets  # before TensorFlow: it keeps TensorFlow's INFO lines out
from dataset_assets.parts import split

import tensorflow as tf  # noqa: E402

IMAGES = Path(os.environ.get("SHARDED_DIGITS_IMAGES") or Path(__file__).resolve().parents[3] / "data" / "raw" / "images")
NUM_PARTS = int(os.environ.get("SHARDED_DIGITS_PARTS", "4"))


def image_files() -> list[str]:
    """Every `<class>/<name>.png` below IMAGES, in a fixed order (the artifact's order)."""
    return sorted(str(p) for p in IMAGES.glob("*/*.png"))


def read_part(part: int, num_parts: int) -> tf.data.Dataset:
    """Part `part` of the digits: its contiguous slice of the files, decoded: {"image": uint8 [8, 8, 1], "label": int64}."""
    files = split(image_files(), part, num_parts)
    labels = [int(Path(f).parent.name) for f in files]

    def decode(path, label):
        return {"image": tf.ensure_shape(tf.io.decode_png(tf.io.read_file(path), channels=1), [8, 8, 1]), "label": label}

    paths = tf.constant(files, tf.string, shape=[len(files)])
    return tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int64, shape=[len(labels)]))).map(decode)


# digits_parts (one partition per part) -> digits (the commit), with blocking round_trip and integrity checks
digits = sharded_artifact_assets("digits", read_part, NUM_PARTS)
