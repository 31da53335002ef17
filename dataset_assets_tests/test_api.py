"""save/load/verify contracts: clear errors for bad input, cheap checks on load, full checks in verify."""

import hashlib
import json

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.helpers import rewrite_manifest, version_dir


@pytest.fixture
def artifact(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices({"x": np.arange(12, dtype=np.float32).reshape(4, 3), "y": [b"a", b"b", b"", b"d"]})
    da.save(ds, tmp_path / "art", format="npy")
    return tmp_path / "art", ds


def test_formats_constant():
    assert da.FORMATS == ("npy", "hdf5", "pathlist", "tfrecord", "tfdata")


def test_infinite_dataset_is_refused_at_once(tmp_path):
    with pytest.raises(da.UnsupportedDatasetError, match="infinite.*take"):
        da.save(tf.data.Dataset.range(3).repeat(), tmp_path / "art", format="npy")
    assert not (tmp_path / "art").exists()


def test_unknown_cardinality_is_fine(tmp_path):
    ds = tf.data.Dataset.range(10).filter(lambda i: i % 2 == 0)
    assert ds.cardinality() == tf.data.UNKNOWN_CARDINALITY
    assert da.save(ds, tmp_path / "art", format="npy").num_elements == 5


def test_unknown_rank_names_the_feature(tmp_path):
    ds = tf.data.Dataset.range(3).map(lambda i: {"f": tf.numpy_function(lambda v: v, [i], tf.int64)})
    with pytest.raises(da.UnsupportedDatasetError, match=r"\['f'\].*unknown rank.*ensure_shape"):
        da.save(ds, tmp_path / "art", format="npy")


def test_sparse_is_refused_with_advice(tmp_path):
    ds = tf.data.Dataset.from_tensors(tf.sparse.from_dense([[1, 0], [0, 2]]))
    with pytest.raises(da.UnsupportedDatasetError, match="SparseTensor.*to_dense"):
        da.save(ds, tmp_path / "art", format="npy")


def test_quantized_is_refused_with_advice(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices({"q": tf.constant(np.array([1, 2], tf.qint16.as_numpy_dtype), tf.qint16)})
    with pytest.raises(da.UnsupportedDatasetError, match=r"\['q'\] is a quantized qint16.*bitcast\(x, tf.int16\)"):
        da.save(ds, tmp_path / "art", format="npy")
    assert not (tmp_path / "art").exists()


def test_fingerprint_refuses_what_save_refuses_in_the_same_words():
    ds = tf.data.Dataset.range(3).map(lambda i: {"f": tf.numpy_function(lambda v: v, [i], tf.int64)})
    with pytest.raises(da.UnsupportedDatasetError, match=r"\['f'\].*unknown rank"):
        da.fingerprint(ds)
    with pytest.raises(da.UnsupportedDatasetError, match="SparseTensor"):
        da.fingerprint(tf.data.Dataset.from_tensors(tf.sparse.from_dense([1, 0, 2])))


def test_unknown_format_and_option(tmp_path):
    with pytest.raises(da.UnsupportedDatasetError, match="unknown format 'parquet'.*npy"):
        da.save(tf.data.Dataset.range(3), tmp_path / "a", format="parquet")
    with pytest.raises(da.UnsupportedDatasetError, match="no option 'compresion'"):
        da.save(tf.data.Dataset.range(3), tmp_path / "b", format="npy", compresion="gzip")


def test_not_a_dataset(tmp_path):
    with pytest.raises(da.UnsupportedDatasetError, match="tf.data.Dataset, not ndarray"):
        da.save(np.arange(3), tmp_path / "a", format="npy")


def test_all_errors_share_one_base():
    for cls in (da.UnsupportedDatasetError, da.ArtifactError, da.ArtifactExistsError):
        assert issubclass(cls, da.DatasetAssetsError)


def test_manifest_contents(artifact):
    path, ds = artifact
    doc = json.loads((version_dir(path) / "manifest.json").read_text())
    for key in ("format", "format_version", "library_version", "element_spec", "num_elements", "files", "total_bytes", "created", "options", "fingerprint", "version"):
        assert key in doc
    assert doc["element_spec"]["type"] == "dict"
    assert doc["num_elements"] == 4
    assert all(set(f) == {"path", "bytes", "sha256", "crc32c"} for f in doc["files"])
    assert doc["version"] == da.versions(path)[-1].id and (path / "versions" / doc["version"]).is_dir()
    assert doc["total_bytes"] == sum(f["bytes"] for f in doc["files"])
    assert doc["fingerprint"] == da.fingerprint(ds)


def test_load_missing_directory(tmp_path):
    with pytest.raises(da.ArtifactError, match="is not an artifact: it has no commit record"):
        da.load(tmp_path / "nothing")


def test_load_missing_manifest(artifact):
    path, _ = artifact
    (version_dir(path) / "manifest.json").unlink()
    with pytest.raises(da.ArtifactError, match="manifest.json is missing: version .* is incomplete"):
        da.load(path)
    assert not da.verify(path).ok


def test_load_unreadable_manifest(artifact):
    path, _ = artifact
    (version_dir(path) / "manifest.json").write_text("{not json")
    with pytest.raises(da.ArtifactError, match="does not match the digest in .*current.json"):
        da.load(path)  # the commit record's digest catches any change to a committed manifest
    record = json.loads((path / "current.json").read_text())
    record["versions"][-1]["manifest_sha256"] = hashlib.sha256(b"{not json").hexdigest()
    (path / "current.json").write_text(json.dumps(record))
    with pytest.raises(da.ArtifactError, match="not a readable manifest"):
        da.load(path)


def test_manifest_pointing_outside_is_refused(artifact):
    path, _ = artifact
    rewrite_manifest(path, lambda doc: doc["files"][0].update(path="../../etc/passwd"))
    with pytest.raises(da.ArtifactError, match="outside the artifact"):
        da.load(path)
    report = da.verify(path)
    assert not report.ok and "outside" in report.problems[0]


def test_newer_format_version_is_refused(artifact):
    path, _ = artifact
    rewrite_manifest(path, lambda doc: doc.update(format_version=99))
    with pytest.raises(da.ArtifactError, match="version 99.*upgrade"):
        da.load(path)


def test_verify_against_a_different_dataset(artifact):
    path, ds = artifact
    other = ds.map(lambda e: {"x": e["x"] + tf.constant([0, 0, 1], tf.float32) * tf.cast(e["y"] == b"", tf.float32), "y": e["y"]})
    report = da.verify(path, other)
    assert not report.ok
    assert any("element 2" in p and "'x'" in p for p in report.problems), report.problems


def test_verify_against_a_shorter_dataset(artifact):
    path, ds = artifact
    report = da.verify(path, ds.take(3))
    assert report.problems == ["the reference dataset has 3 elements, the artifact 4"]
    assert da.verify(path, ds.repeat(2)).problems == ["the reference dataset has 8 elements, the artifact 4"]


def test_verify_reports_spec_mismatch(artifact):
    path, _ = artifact
    report = da.verify(path, tf.data.Dataset.range(4))
    assert not report.ok and "element_spec" in report.problems[0]


def test_verify_of_garbage_never_raises(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text('{"format": "npy"}')
    report = da.verify(tmp_path / "junk")
    assert not report.ok and report.problems


@pytest.mark.parametrize("fmt", ["npy", "hdf5", "tfrecord", "tfdata"])
def test_verify_ignores_tensorspec_names(tmp_path, fmt):
    """Names label graph inputs, not data: an artifact of a named spec verifies against its own dataset."""

    def rows():
        for i in range(5):
            yield {"x": np.full(3, i, np.float32), "t": np.arange(i)}

    spec = {"x": tf.TensorSpec([3], tf.float32, name="features"), "t": tf.TensorSpec([None], tf.int64, name="tokens")}
    ds = tf.data.Dataset.from_generator(rows, output_signature=spec)
    da.save(ds, tmp_path / "art", format=fmt)
    assert da.load(tmp_path / "art").element_spec == {"x": tf.TensorSpec([3], tf.float32), "t": tf.TensorSpec([None], tf.int64)}
    report = da.verify(tmp_path / "art", ds)
    assert report.ok, report.problems
    wrong = {"x": tf.TensorSpec([3], tf.float64, name="features"), "t": spec["t"]}
    other = tf.data.Dataset.from_generator(lambda: ({"x": r["x"].astype(np.float64), "t": r["t"]} for r in rows()), output_signature=wrong)
    assert not da.verify(tmp_path / "art", other).ok


def test_verify_compares_strings_of_other_sizes_element_by_element(tmp_path):
    """Batches are sized from the first element: the reference's must not differ from the artifact's."""
    ds = tf.data.Dataset.from_tensor_slices([b"a" * 10] + [b"b"] * 99)
    da.save(ds, tmp_path / "s", format="npy")
    other = tf.data.Dataset.from_tensor_slices([b"a" * 4_000_000] + [b"b"] * 99)
    assert da.verify(tmp_path / "s", other).problems[0] == "element 0 differs from the reference in 'value'"
