"""Group `datasets`: the tf.data.Dataset each raw source represents, stored by `dataset_io_manager`.

Each dataset is stored as an npy artifact (a tf.data.Dataset cannot be pickled); the code location
gives each a blocking integrity check, which the artifacts' automation waits for.
"""

import tensorflow as tf
from dagster import AssetExecutionContext, asset

from .raw import read_numeric, read_table, scan_images
from .resources import RawData

DATASET_IO_MANAGER = "dataset_io_manager"


def image_dataset_from_folder(folder, image_size: list[int] | None = None) -> tf.data.Dataset:
    """{"image": uint8 [H, W, C], "label": int64}, decoded inside tf.data in file order."""
    height, width, channels = folder.shape

    def decode(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False, dtype=tf.uint8)
        if image_size is not None:
            resized = tf.image.resize(image, [height, width], antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
        return {"image": tf.ensure_shape(image, [height, width, channels]), "label": label}

    paths = tf.data.Dataset.from_tensor_slices((folder.paths, folder.labels))
    return paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@asset(
    group_name="datasets",
    deps=["raw_numeric"],
    io_manager_key=DATASET_IO_MANAGER,
    kinds={"tensorflow"},
    description="raw_numeric as a tf.data.Dataset: one element per row (a dict of the file's arrays).",
)
def numeric_dataset(context: AssetExecutionContext, raw_data: RawData) -> tf.data.Dataset:
    data, _ = read_numeric(raw_data.numeric_path)
    return tf.data.Dataset.from_tensor_slices(data)


@asset(
    group_name="datasets",
    deps=["raw_images"],
    io_manager_key=DATASET_IO_MANAGER,
    kinds={"tensorflow"},
    description='raw_images as a tf.data.Dataset of {"image": uint8 [H, W, C], "label": int64}; labels index the sorted class folders.',
)
def image_dataset(context: AssetExecutionContext, raw_data: RawData) -> tf.data.Dataset:
    folder = scan_images(raw_data.images_path, raw_data.image_size)
    context.add_output_metadata({"class_names": ", ".join(folder.class_names)})
    return image_dataset_from_folder(folder, raw_data.image_size)


@asset(
    group_name="datasets",
    deps=["raw_table"],
    io_manager_key=DATASET_IO_MANAGER,
    kinds={"tensorflow"},
    description="raw_table as a tf.data.Dataset: one element per row, a dict of scalar columns (int64, float64, bool, string).",
)
def table_dataset(context: AssetExecutionContext, raw_data: RawData) -> tf.data.Dataset:
    columns, _ = read_table(raw_data.table_path)
    return tf.data.Dataset.from_tensor_slices(columns)


DATASET_ASSETS = {"numeric": numeric_dataset, "image": image_dataset, "table": table_dataset}
