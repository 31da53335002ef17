"""tfdata: round trips through TF's own save/load, compression, shards in order, damage reported with the file named."""

import pickle
import re

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.formats.test_hdf5 import CASES, STRINGS, assert_same_elements
from dataset_assets_tests.helpers import version_dir


def _save(dataset, path, **options):
    return da.save(dataset, path, format="tfdata", **options)


def _shard_files(art):
    return sorted(p for p in (version_dir(art) / "data").rglob("*.snapshot"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(tmp_path, case):
    dataset = CASES[case]()
    manifest = _save(dataset, tmp_path / "art")
    loaded = da.load(tmp_path / "art")
    assert loaded.element_spec == dataset.element_spec
    assert int(loaded.cardinality()) == manifest.num_elements
    assert_same_elements(loaded, dataset)
    assert da.verify(tmp_path / "art", dataset).ok


def test_fingerprint_matches_other_formats(tmp_path):
    dataset = CASES["nested"]()
    assert _save(dataset, tmp_path / "a").fingerprint == da.save(dataset, tmp_path / "b", format="npy").fingerprint


def test_files_live_under_data(tmp_path):
    manifest = _save(CASES["strings"](), tmp_path / "art")
    assert manifest.details == {"path": "data", "compression": None, "num_shards": 1}
    assert all(f.path.startswith("data/") for f in manifest.files)
    assert len(_shard_files(tmp_path / "art")) == 1


@pytest.mark.parametrize("compression", ["GZIP", "SNAPPY"])
def test_compression(tmp_path, compression):
    dataset = tf.data.Dataset.from_tensor_slices({"x": np.zeros((2000, 16), np.float32), "s": np.array(STRINGS * 400, dtype=object)})
    plain = _save(dataset, tmp_path / "plain")
    manifest = _save(dataset, tmp_path / "art", compression=compression)
    assert manifest.options["compression"] == compression
    assert manifest.total_bytes < plain.total_bytes // 4  # zeros and repeated strings shrink a lot
    assert_same_elements(da.load(tmp_path / "art"), dataset)


def test_shards_keep_the_order(tmp_path):
    dataset = tf.data.Dataset.range(100).map(lambda i: {"i": i, "s": tf.strings.as_string(i), "v": tf.range(i % 7)})
    manifest = _save(dataset, tmp_path / "art", num_shards=3, compression="GZIP")
    assert manifest.details["num_shards"] == 3
    assert len(_shard_files(tmp_path / "art")) == 3
    loaded = da.load(tmp_path / "art")
    assert [int(e["i"]) for e in loaded] == list(range(100))
    assert_same_elements(loaded, dataset)
    assert da.verify(tmp_path / "art", dataset).ok


def test_shards_keep_ragged_rank_0_leaves(tmp_path):
    dataset = CASES["ragged0_beside_variable"]()  # a map dropping an index would turn the ragged leaf into a plain tensor
    _save(dataset, tmp_path / "art", num_shards=2)
    assert_same_elements(da.load(tmp_path / "art"), dataset)


@pytest.mark.parametrize("n", [0, 2])
def test_more_shards_than_elements(tmp_path, n):
    dataset = CASES["strings"]().take(n)
    manifest = _save(dataset, tmp_path / "art", num_shards=5)
    assert manifest.num_elements == n and len(_shard_files(tmp_path / "art")) == n
    assert_same_elements(da.load(tmp_path / "art"), dataset)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    _save(CASES["nested"](), tmp_path / "art", num_shards=2)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    assert_same_elements(da.load(tmp_path / "art"), CASES["nested"]())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"compression": "gzip"}, r"compression='gzip'.*None, 'GZIP', 'SNAPPY'"),
        ({"compression": "ZLIB"}, r"compression='ZLIB'.*None, 'GZIP', 'SNAPPY'"),
        ({"num_shards": 0}, r"num_shards=0 must be an int >= 1"),
        ({"num_shards": 1.5}, r"num_shards=1.5 must be an int >= 1"),
        ({"num_shards": True}, r"num_shards=True must be an int >= 1"),
        ({"num_shards": "2"}, r"num_shards='2' must be an int >= 1"),
        ({"shards": 2}, r"no option 'shards'.*compression, num_shards"),
    ],
)
def test_bad_options_are_refused_before_writing(tmp_path, options, message):
    with pytest.raises(da.UnsupportedDatasetError, match=message):
        _save(tf.data.Dataset.range(3), tmp_path / "art", **options)
    assert not (tmp_path / "art").exists()


@pytest.fixture
def artifact(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices(np.random.default_rng(0).standard_normal((500, 16)).astype(np.float32))
    _save(dataset, tmp_path / "art", num_shards=2)
    return tmp_path / "art", _shard_files(tmp_path / "art")[0]


def test_flipped_byte_is_reported(artifact):
    art, victim = artifact
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    report = da.verify(art)
    assert not report.ok and any(str(victim) in p and "checksum" in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim)) + ".*do not match the checksum"):
        list(da.load(art))


def test_truncated_file_is_reported_and_refused(artifact):
    art, victim = artifact
    victim.write_bytes(victim.read_bytes()[:-7])
    report = da.verify(art)
    assert not report.ok and any(str(victim) in p and "truncated" in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim))):
        da.load(art)


@pytest.mark.parametrize("which", ["shard", "metadata"])
def test_missing_file_is_reported_and_refused(artifact, which):
    art, victim = artifact
    if which == "metadata":
        victim = version_dir(art) / "data" / "snapshot.metadata"
    victim.unlink()
    report = da.verify(art)
    assert not report.ok and any(str(victim) in p and "missing" in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=re.escape(str(victim))):
        da.load(art)


@pytest.mark.parametrize("ragged", [False, True])  # hashed on the way in / read back (ragged_rank 1)
def test_fingerprint_is_of_what_was_written_even_from_a_random_source(tmp_path, ragged):
    # a source that differs on every pass (unseeded randomness) must still get the
    # fingerprint of the elements actually stored
    def element(i):
        x = tf.random.uniform([3])
        return {"x": x, "r": tf.RaggedTensor.from_row_lengths(x, [2, 1])} if ragged else x

    source = tf.data.Dataset.range(300).map(element)
    manifest = _save(source, tmp_path / "art")
    report = da.verify(tmp_path / "art")
    assert report.ok, report
    assert manifest.fingerprint == da.fingerprint(da.load(tmp_path / "art"))
    assert manifest.fingerprint != da.fingerprint(source)  # the source really does change between passes
