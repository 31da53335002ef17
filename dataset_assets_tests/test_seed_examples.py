"""The three examples of the article this project answers, done through da.save / da.load."""

import numpy as np
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements


def test_example_1_numeric_array_as_npy(tmp_path):
    data = np.random.rand(1000, 32)
    dataset = tf.data.Dataset.from_tensor_slices(data)
    da.save(dataset, tmp_path / "my_data", format="npy")
    reconstructed = da.load(tmp_path / "my_data")
    assert dataset.element_spec == reconstructed.element_spec  # float64 kept, unlike a float32 cast
    for a, b in zip(dataset, reconstructed):
        assert np.array_equal(a.numpy(), b.numpy())  # exact, not allclose


def test_example_2_image_files_with_a_path_list(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        png = tf.io.encode_png(rng.integers(0, 256, (8, 10, 3), dtype=np.uint8))
        tf.io.write_file(str(images / f"img{i}.png"), png)
    image_paths = sorted(str(p) for p in images.iterdir() if p.suffix in (".jpg", ".png"))
    paths = tf.data.Dataset.from_tensor_slices(image_paths)
    originals = [x.numpy() for x in paths.map(tf.io.read_file)]

    da.save(paths, tmp_path / "image_paths", format="pathlist", copy_files=True)
    for p in images.iterdir():  # the artifact is self-contained: the originals can go
        p.unlink()
    reconstructed = da.load(tmp_path / "image_paths").map(tf.io.read_file)
    contents = [x.numpy() for x in reconstructed]
    assert contents == originals
    assert [tf.io.decode_png(c).shape for c in contents] == [(8, 10, 3)] * 6

    # and the decoded images themselves, stored as PNG files plus an index
    decoded = tf.data.Dataset.from_tensor_slices(rng.integers(0, 256, (6, 8, 10, 3), dtype=np.uint8))
    da.save(decoded, tmp_path / "images_art", format="pathlist")
    assert_same_elements(da.load(tmp_path / "images_art"), decoded)
    assert da.verify(tmp_path / "images_art", decoded).ok


def test_example_3_dict_of_int_and_string_features_as_tfrecord(tmp_path):
    features = {"feature1": tf.constant([1, 2, 3]), "feature2": tf.constant(["a", "b", "c"])}
    dataset = tf.data.Dataset.from_tensor_slices(features)
    da.save(dataset, tmp_path / "my_data", format="tfrecord")
    reconstructed = da.load(tmp_path / "my_data")
    assert reconstructed.element_spec == dataset.element_spec  # int32 stays int32
    for e1, e2 in zip(dataset, reconstructed):
        assert e1["feature1"].numpy() == e2["feature1"].numpy()
        assert e1["feature2"].numpy() == e2["feature2"].numpy()
