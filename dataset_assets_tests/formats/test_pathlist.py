"""pathlist: images as PNG/JPEG files or file paths, listed in index.csv with their labels."""

import csv
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.columns import Layout
from dataset_assets.formats import pathlist
from dataset_assets import read_manifest
from dataset_assets.storage.checksums import digest_file
from dataset_assets_tests.helpers import assert_same_elements, rewrite_manifest, version_dir

RNG = np.random.default_rng(7)


def _images(n, h=6, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _rows(path):
    with open(version_dir(path) / "index.csv", newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _rewrite_list(art, rows):
    """Edit index.csv and, like a deliberate attacker, make the manifest agree with the edit."""
    with open(version_dir(art) / "index.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    _rehash(art, "index.csv")


def _rehash(art, rel):
    """Make the manifest's size, SHA-256 and block CRCs of `rel` (and the commit record's digest of it) agree."""
    digest = digest_file(version_dir(art) / rel)

    def edit(doc):
        (entry,) = [e for e in doc["files"] if e["path"] == rel]
        entry["bytes"], entry["sha256"], entry["crc32c"] = digest.bytes, digest.sha256, digest.crc32c

    rewrite_manifest(art, edit)


def test_article_example_image_files_listed_by_path(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    originals = _images(5, 8, 10)
    for i, image in enumerate(originals):
        tf.io.write_file(str(folder / f"img{i}.png"), tf.io.encode_png(image))
    paths = tf.data.Dataset.from_tensor_slices(sorted(str(p) for p in folder.iterdir()))
    images = paths.map(lambda p: tf.ensure_shape(tf.io.decode_png(tf.io.read_file(p), channels=3), [8, 10, 3]))

    manifest = da.save(images, tmp_path / "art", format="pathlist")
    loaded = da.load(tmp_path / "art")
    assert_same_elements(loaded, images)
    assert [x.numpy().tobytes() for x in loaded] == [x.tobytes() for x in originals]
    assert manifest.num_elements == 5 and int(loaded.cardinality()) == 5
    assert [r[0] for r in _rows(tmp_path / "art")] == ["path"] + [f"images/{i:09d}.png" for i in range(5)]
    assert da.verify(tmp_path / "art", images).ok


def test_images_with_labels_round_trip_exactly(tmp_path):
    n = 7
    labels = {
        "image": _images(n),
        "label": np.arange(n, dtype=np.int64) - 3,
        "big": np.array([0, 1, 2**64 - 1, 5, 6, 7, 8], dtype=np.uint64),
        "weight": np.array([0.1, -0.0, np.inf, -np.inf, 1e-45, 3.4e38, np.nan], dtype=np.float32),
        "score": np.array([0.1 + 0.2, 5e-324, 1e300, -2.5, 0.0, np.pi, np.e]),
        "half": np.array([-2, 6e-8, 1e-5, 0.1, 65504, -0.0, 1], dtype=np.float16),  # with subnormals
        "flag": np.arange(n) % 2 == 0,
        "name": np.array(["a", "grüße", "", "x,y", 'q"uote', "two\r\nlines", "nan"], dtype=object),
        "box": RNG.standard_normal((n, 4)).astype(np.float32),
    }
    dataset = tf.data.Dataset.zip(
        {**{k: tf.data.Dataset.from_tensor_slices(v) for k, v in labels.items()}, "bf": tf.data.Dataset.from_tensor_slices(
            tf.cast(RNG.standard_normal((n, 2)).astype(np.float32), tf.bfloat16))}  # a vector: helpers can't np.asarray a scalar bfloat16
    )
    manifest = da.save(dataset, tmp_path / "art", format="pathlist")
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == dataset.element_spec
    assert_same_elements(loaded, dataset)
    assert manifest.fingerprint == da.fingerprint(dataset)
    report = da.verify(tmp_path / "art", dataset)
    assert report.ok, report.problems
    rows = _rows(tmp_path / "art")
    assert rows[0] == ["path", "bf", "big", "box", "flag", "half", "label", "name", "score", "weight"]
    assert rows[3][2] == str(2**64 - 1) and rows[1][7] == "a"  # readable: UTF-8 strings kept as text
    columns = {c["name"]: c for c in manifest.details["columns"]}
    assert columns["path"]["role"] == "image" and columns["path"]["shape"] == [6, 5, 3]
    assert columns["name"]["encoding"] == "utf-8" and columns["box"]["shape"] == [4]
    assert manifest.details["image_format"] == "png" and manifest.details["lossy"] is False


def test_non_utf8_strings_are_base64_in_the_list(tmp_path):
    names = np.array([b"\xff\xfe", b"nul\x00byte", b"ok"], dtype=object)
    dataset = tf.data.Dataset.from_tensor_slices((_images(3), names))
    manifest = da.save(dataset, tmp_path / "art", format="pathlist")
    assert manifest.details["columns"][1]["encoding"] == "base64"
    assert_same_elements(da.load(tmp_path / "art"), dataset)


@pytest.mark.parametrize("channels", [1, 4])
def test_grayscale_and_rgba(tmp_path, channels):
    dataset = tf.data.Dataset.from_tensor_slices({"image": _images(4, c=channels), "y": np.arange(4, dtype=np.int32)})
    da.save(dataset, tmp_path / "art", format="pathlist")
    loaded = da.load(tmp_path / "art")
    assert_same_elements(loaded, dataset)
    decoded = tf.io.decode_png(tf.io.read_file(str(version_dir(tmp_path / "art") / "images" / "000000002.png")))
    assert decoded.shape[-1] == channels
    assert da.verify(tmp_path / "art", dataset).ok


def test_variable_size_images_in_a_tuple(tmp_path):
    sizes = [(3, 4), (7, 2), (1, 1), (5, 9)]
    images = [_images(1, h, w, seed=i)[0] for i, (h, w) in enumerate(sizes)]
    dataset = tf.data.Dataset.zip(
        (
            tf.data.Dataset.from_generator(lambda: iter(images), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)),
            tf.data.Dataset.range(4),
        )
    )
    da.save(dataset, tmp_path / "art", format="pathlist")
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == (tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int64))
    assert [tuple(x.shape[:2]) for x, _ in loaded] == sizes
    assert_same_elements(loaded.apply(tf.data.experimental.assert_cardinality(4)), dataset.apply(tf.data.experimental.assert_cardinality(4)))
    assert da.verify(tmp_path / "art", dataset).ok


def test_empty_image_dataset(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices({"image": _images(0), "label": np.zeros(0, np.int64)})
    manifest = da.save(dataset, tmp_path / "art", format="pathlist")
    assert manifest.num_elements == 0
    assert_same_elements(da.load(tmp_path / "art"), dataset)


@pytest.mark.parametrize("channels", [3, 1])
def test_jpeg_is_lossy_and_fingerprinted_as_stored(tmp_path, channels):
    yy, xx = np.mgrid[0:16, 0:16]
    smooth = np.stack([(xx * 8 + yy * 4 + k * 20) % 256 for k in range(channels)], -1).astype(np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices({"image": np.stack([smooth] * 3), "label": np.arange(3)})
    manifest = da.save(dataset, tmp_path / "art", format="pathlist", image_format="jpeg", jpeg_quality=90)
    assert manifest.details["lossy"] is True and manifest.details["jpeg_quality"] == 90
    assert sorted(p.name for p in (version_dir(tmp_path / "art") / "images").iterdir()) == [f"{i:09d}.jpg" for i in range(3)]
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == dataset.element_spec
    for got, want in zip(loaded, dataset):
        diff = np.abs(got["image"].numpy().astype(int) - want["image"].numpy().astype(int))
        assert diff.mean() < 4 and got["label"] == want["label"]
    assert manifest.fingerprint == da.fingerprint(loaded) != da.fingerprint(dataset)
    report = da.verify(tmp_path / "art")
    assert report.ok, report.problems


def test_path_list_stored_as_given(tmp_path):
    paths = np.array([b"/data/a.png", "relative/grüße.jpg".encode(), b"\xffnot-utf8", b"", b"does/not/exist"], dtype=object)
    dataset = tf.data.Dataset.from_tensor_slices({"file": paths, "label": np.arange(5, dtype=np.int16)})
    manifest = da.save(dataset, tmp_path / "art", format="pathlist")
    assert manifest.details["kind"] == "paths" and manifest.details["paths"] == "as given"
    assert not (version_dir(tmp_path / "art") / "files").exists()
    assert_same_elements(da.load(tmp_path / "art"), dataset)
    assert da.verify(tmp_path / "art", dataset).ok


@pytest.mark.parametrize("values", [[b"", b" ", b"x\r\ny", b'"'], [b"\xff\xfe\x00bytes", b"", b" "]])
def test_single_column_of_awkward_strings(tmp_path, values):
    dataset = tf.data.Dataset.from_tensor_slices(np.array(values, dtype=object))
    da.save(dataset, tmp_path / "art", format="pathlist")
    assert_same_elements(da.load(tmp_path / "art"), dataset)  # blank-looking rows are rows, not skipped


def test_copied_path_list_is_self_contained(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    contents = [b"first", b"\x00\x01binary", b""]
    for i, data in enumerate(contents):
        (src / f"f{i}.bin").write_bytes(data)
    dataset = tf.data.Dataset.from_tensor_slices(
        {"path": [str(src / f"f{i}.bin") for i in range(3)], "caption": ["one", "two", "three"], "n": [1, 2, 3]}
    )
    manifest = da.save(dataset, tmp_path / "art", format="pathlist", copy_files=True, path_field="path")
    for p in src.iterdir():
        p.unlink()
    src.rmdir()
    assert manifest.details["paths"] == "copied"
    art = (tmp_path / "art").absolute()
    loaded = list(da.load(tmp_path / "art"))
    assert [e["path"].numpy().decode() for e in loaded] == [str(version_dir(art) / f"files/{i:09d}.bin") for i in range(3)]
    assert [tf.io.read_file(e["path"]).numpy() for e in loaded] == contents
    assert [e["caption"].numpy() for e in loaded] == [b"one", b"two", b"three"]
    # the fingerprint covers the artifact-relative paths, which survive moving the artifact
    stored = pathlist.read_stored(version_dir(art), read_manifest(art), Layout(dataset.element_spec))
    assert [e["path"].numpy() for e in stored] == [f"files/{i:09d}.bin".encode() for i in range(3)]
    assert da.fingerprint(stored) == manifest.fingerprint
    os.rename(art, tmp_path / "moved")
    assert tf.io.read_file(next(iter(da.load(tmp_path / "moved")))["path"]).numpy() == b"first"


def test_copy_of_a_missing_file_is_refused(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices([str(tmp_path / "nope.png")])
    with pytest.raises(da.UnsupportedDatasetError, match="nope.png"):
        da.save(dataset, tmp_path / "art", format="pathlist", copy_files=True)
    # refused while writing: nothing committed, and the version being written is removed
    assert da.versions(tmp_path / "art") == []
    assert not (tmp_path / "art" / "current.json").exists()
    assert not (tmp_path / "art").exists() or list((tmp_path / "art" / "versions").iterdir()) == []


REFUSED = {
    "floats": (lambda: tf.data.Dataset.from_tensor_slices(np.zeros((3, 2), np.float32)), "'value'"),
    "string_vector": (lambda: tf.data.Dataset.from_tensor_slices({"image": _images(2), "tags": [["a", "b"], ["c", "d"]]}), "'tags'"),
    "two_images": (lambda: tf.data.Dataset.from_tensor_slices({"a": _images(2), "b": _images(2)}), "'b'"),
    "two_channel": (lambda: tf.data.Dataset.from_tensor_slices(_images(2, c=2)), "1, 3 or 4 channels"),
    "no_channel_axis": (lambda: tf.data.Dataset.from_tensor_slices(_images(2)[..., 0]), "tf.expand_dims"),
    "big_vector": (lambda: tf.data.Dataset.from_tensor_slices({"image": _images(2), "emb": np.zeros((2, 65))}), "'emb'"),
    "ragged_label": (
        lambda: tf.data.Dataset.zip(
            (tf.data.Dataset.from_tensor_slices(_images(2)), tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1], [2, 3]])))
        ),
        "'1'",
    ),
    "vector_beside_path": (lambda: tf.data.Dataset.from_tensor_slices({"p": ["a", "b"], "v": np.zeros((2, 3))}), "'v'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsupported_data_is_refused_before_writing(tmp_path, case):
    make, named = REFUSED[case]
    with pytest.raises(da.UnsupportedDatasetError, match="format='tfrecord' or 'npy'") as info:
        da.save(make(), tmp_path / "art", format="pathlist")
    assert named in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "options, match",
    [
        ({"image_format": "gif"}, "png"),
        ({"jpeg_quality": 0}, "1 to 100"),
        ({"copy_files": True}, "copy_files applies"),
        ({"path_field": "image"}, "path_field"),
        ({"colour": 1}, "no option 'colour'"),
    ],
)
def test_bad_options_are_refused(tmp_path, options, match):
    with pytest.raises(da.UnsupportedDatasetError, match=match):
        da.save(tf.data.Dataset.from_tensor_slices(_images(2, c=4)), tmp_path / "art", format="pathlist", **options)


def test_rgba_jpeg_and_ambiguous_paths_are_refused(tmp_path):
    with pytest.raises(da.UnsupportedDatasetError, match="image_format='png'"):
        da.save(tf.data.Dataset.from_tensor_slices(_images(2, c=4)), tmp_path / "a", format="pathlist", image_format="jpeg")
    with pytest.raises(da.UnsupportedDatasetError, match="path_field"):
        da.save(tf.data.Dataset.from_tensor_slices({"a": ["x"], "b": ["y"]}), tmp_path / "b", format="pathlist")
    with pytest.raises(da.UnsupportedDatasetError, match="apply to images"):
        da.save(tf.data.Dataset.from_tensor_slices(["x"]), tmp_path / "c", format="pathlist", image_format="jpeg")


@pytest.mark.parametrize("bad", ["../x.png", "/etc/passwd", "images/../../x.png", "images/000000009.png"])
def test_list_naming_files_outside_the_artifact_is_refused(tmp_path, bad):
    art = tmp_path / "art"
    da.save(tf.data.Dataset.from_tensor_slices(_images(3)), art, format="pathlist")
    rows = _rows(art)
    rows[2][0] = bad
    _rewrite_list(art, rows)
    with pytest.raises(da.ArtifactError, match=r"index\.csv, data row 2") as info:
        da.load(art)
    assert repr(bad) in str(info.value)


def test_naive_list_edit_is_caught_by_the_size_check(tmp_path):
    art = tmp_path / "art"
    da.save(tf.data.Dataset.from_tensor_slices(_images(2)), art, format="pathlist")
    (version_dir(art) / "index.csv").write_text("path\r\n../x.png\r\n/etc/passwd\r\n")
    with pytest.raises(da.ArtifactError, match="index.csv"):
        da.load(art)


def test_symlink_leaving_the_artifact_is_refused(tmp_path):
    art = tmp_path / "art"
    da.save(tf.data.Dataset.from_tensor_slices(_images(2)), art, format="pathlist")
    outside = tmp_path / "secret.png"
    images = version_dir(art) / "images"
    outside.write_bytes((images / "000000001.png").read_bytes())
    (images / "000000001.png").unlink()
    (images / "000000001.png").symlink_to(outside)
    with pytest.raises(da.ArtifactError, match="symbolic link"):
        da.load(art)


def test_corrupted_image_is_reported_by_verify(tmp_path):
    art = tmp_path / "art"
    dataset = tf.data.Dataset.from_tensor_slices(_images(3))
    da.save(dataset, art, format="pathlist")
    target = version_dir(art) / "images" / "000000001.png"
    data = bytearray(target.read_bytes())
    data[0] ^= 0xFF
    target.write_bytes(bytes(data))
    report = da.verify(art, dataset)
    assert not report.ok
    assert any(str(target) in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=re.escape(str(target)) + ".*do not match the checksum"):
        list(da.load(art))  # the block checks of a checked load see it first
    _rehash(art, "images/000000001.png")  # the manifest's checksums agree now: the deeper checks must still name the file
    # after a transformation the error is TensorFlow's own
    with pytest.raises(tf.errors.InvalidArgumentError, match="image file does not match its checksum.*000000001.png"):
        list(da.load(art).map(lambda x: x))  # the image's FarmHash64 recorded at write time
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad header.*000000001.png"):
        list(da.load(art, checked=False).map(lambda x: x))  # the decoder's header check
    # iterating the loaded dataset itself turns it into ArtifactError, still naming the file
    with pytest.raises(da.ArtifactError, match="000000001.png"):
        list(da.load(art))
    with pytest.raises(da.ArtifactError, match="000000001.png"):
        list(da.load(art, checked=False))


def test_missing_image_is_named_on_load(tmp_path):
    art = tmp_path / "art"
    da.save(tf.data.Dataset.from_tensor_slices({"image": _images(3), "y": [1, 2, 3]}), art, format="pathlist")
    (version_dir(art) / "images" / "000000002.png").unlink()
    with pytest.raises(da.ArtifactError, match="000000002.png"):
        da.load(art)


def test_namedtuple_and_one_tuple_elements(tmp_path):
    import collections

    Pair = collections.namedtuple("Pair", ["image", "label"])
    pairs = tf.data.Dataset.from_tensor_slices(Pair(_images(3), np.arange(3, dtype=np.uint8)))
    single = tf.data.Dataset.from_tensor_slices((_images(2),))
    for name, dataset in (("pairs", pairs), ("single", single)):
        da.save(dataset, tmp_path / name, format="pathlist")
        loaded = da.load(tmp_path / name)
        assert loaded.element_spec == dataset.element_spec
        assert_same_elements(loaded, dataset)


def test_edited_label_value_is_refused_naming_the_column(tmp_path):
    art = tmp_path / "art"
    da.save(tf.data.Dataset.from_tensor_slices({"image": _images(2), "label": np.array([1, 2], np.int8)}), art, format="pathlist")
    rows = _rows(art)
    rows[1][1] = "300"  # does not fit in int8
    _rewrite_list(art, rows)
    with pytest.raises(da.ArtifactError, match=r"index\.csv, column 'label'.*int8"):
        da.load(art)
    _rewrite_list(art, rows[:2])
    with pytest.raises(da.ArtifactError, match="1 rows; the manifest expects"):
        da.load(art)
