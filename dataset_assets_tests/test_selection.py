"""`load(path, split=..., shard=...)`: TFDS slices and disjoint balanced shards yield exactly the expected elements, in order."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import dataset_assets as da
from dataset_assets.selection import SelectionError, element_range
from dataset_assets_tests.helpers import bytes_read

N = 37  # not a multiple of any shard count below: shards differ in size


@pytest.mark.parametrize(
    "n, split, expected",
    [
        (10, "[:10%]", (0, 1)),
        (10, "[10%:20%]", (1, 2)),
        (10, "[-10%:]", (9, 10)),
        (10, "[:-3]", (0, 7)),
        (10, "[-3:]", (7, 10)),
        (10, "[100:200]", (10, 10)),
        (10, "[5:2]", (5, 5)),
        (10, "3:7", (3, 7)),
        (10, "[:]", (0, 10)),
        (5, "[:50%]", (0, 2)),  # round(2.5) == 2: Python's rounding, as TFDS's "closest"
        (7, "[:50%]", (0, 4)),  # round(3.5) == 4
        (1000, "[33%:66%]", (330, 660)),
    ],
)
def test_split_bounds_follow_tfds(n, split, expected):
    selected = element_range(n, split)
    assert (selected.start, selected.stop) == expected


@pytest.mark.parametrize("split", ["train[:10%]", "[1.5:]", "[:101%]", "[a:b]", "", 10, "[:10", ":10]"])
def test_a_malformed_split_is_refused_with_the_syntax(split):
    with pytest.raises(SelectionError, match="split"):
        element_range(10, split)


@pytest.mark.parametrize("shard", [(0, 0), (3, 3), (3, -1), (2,), (1, 2, 3), "ab"])
def test_a_malformed_shard_is_refused(shard):
    with pytest.raises(SelectionError, match="shard"):
        element_range(10, shard=shard)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 500), a=st.integers(-120, 120), b=st.integers(-120, 120), percent=st.booleans(), k=st.integers(1, 17))
def test_shards_of_a_split_hold_each_element_once_balanced_to_one(n, a, b, percent, k):
    bound = (lambda v: f"{max(min(v, 100), -100)}%") if percent else str
    split = f"[{bound(a)}:{bound(b)}]"
    whole = element_range(n, split)
    shards = [element_range(n, split, (k, i)) for i in range(k)]
    assert [e for s in shards for e in s] == list(whole)  # disjoint, complete, in order
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert list(whole) == list(range(n))[whole.start : whole.stop]


def _images(n=N):
    index = np.arange(n)
    images = (np.arange(16)[None, :] + index[:, None]).astype(np.uint8).reshape(n, 4, 4, 1)
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": index.astype(np.int64)})


def _ragged(n=N):
    tokens = tf.data.Dataset.range(n).map(lambda i: tf.range(i % 5))
    words = tf.data.Dataset.range(n).map(lambda i: tf.strings.as_string(tf.range(i % 3)))
    return tf.data.Dataset.zip({"i": tf.data.Dataset.range(n), "tokens": tokens, "words": words})


def _index(element) -> int:
    return int(element["label"] if "label" in element else element["i"])


MAKERS = {"images": _images, "ragged": _ragged}
ARTIFACTS = [(f, k) for f in sorted(da.FORMATS) for k in MAKERS if (f, k) != ("pathlist", "ragged")]  # a path list holds images


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("selection")
    saved = {}
    for fmt, kind in ARTIFACTS:
        saved[(fmt, kind)] = root / f"{kind}_{fmt}"
        da.save(MAKERS[kind](), saved[(fmt, kind)], format=fmt)
    return saved


SELECTIONS = [("[:10%]", None), ("[-25%:]", None), ("[5:-5]", None), (None, (4, 0)), (None, (4, 3)), ("[10:30]", (3, 1)), ("[30:]", (8, 7))]


@pytest.mark.parametrize("fmt, kind", ARTIFACTS)
def test_load_yields_exactly_the_selected_elements_in_every_format(artifacts, fmt, kind):
    path = artifacts[(fmt, kind)]
    everything = list(da.load(path).as_numpy_iterator())
    for split, shard in SELECTIONS:
        loaded = da.load(path, split=split, shard=shard)
        wanted = element_range(N, split, shard)
        got = list(loaded.as_numpy_iterator())
        assert int(loaded.cardinality()) == len(wanted), (split, shard)
        assert [_index(e) for e in got] == list(wanted), (fmt, split, shard)
        for e, full in zip(got, (everything[i] for i in wanted)):
            for key in e:
                assert np.array_equal(e[key], full[key]), (fmt, split, shard, key)


def test_the_shards_of_every_worker_cover_the_artifact_once(artifacts):
    path = artifacts[("npy", "ragged")]
    seen = [_index(e) for w in range(5) for e in da.load(path, shard=(5, w)).as_numpy_iterator()]
    assert seen == list(range(N))


def test_load_asset_passes_split_and_shard_through(artifacts, tmp_path):
    from dataset_assets.home import write_stamp

    path = artifacts[("hdf5", "images")]
    write_stamp(path)
    got = [_index(e) for e in da.load_asset(path.name, base_dir=path.parent, split="[:50%]", shard=(2, 1)).as_numpy_iterator()]
    assert got == list(element_range(N, "[:50%]", (2, 1)))


@pytest.mark.parametrize("fmt", ["npy", "hdf5", "tfrecord"])
def test_a_slice_reads_about_its_share_of_the_bytes(tmp_path, fmt):
    rows, width = 400_000, 16  # 25.6 MB of float32
    features = np.random.default_rng(0).standard_normal((rows, width)).astype(np.float32)
    da.save(tf.data.Dataset.from_tensor_slices(features), tmp_path / "a", format=fmt)
    whole = sum(f.bytes for f in da.read_manifest(tmp_path / "a").files)  # tfrecord: the records with their framing
    for split in ("[:10%]", "[45%:55%]", "[-10%:]"):
        loaded = da.load(tmp_path / "a", split=split)
        before = bytes_read(tmp_path)
        total = sum(int(b.shape[0]) for b in loaded.batch(4096))
        read = bytes_read(tmp_path) - before
        share = whole * total // rows
        assert total == rows // 10
        # at most 1.2x its share, plus what its two edges fall in: 1 MiB checksum blocks, and in hdf5
        # also 1 MiB chunks (the default chunk_bytes), which libhdf5 reads whole
        edges = 2 * (1 << 20) * (2 if fmt == "hdf5" else 1)
        # tfrecord also reads its whole record index (8 bytes an element) to find where the slice starts
        index = next((f.bytes for f in da.read_manifest(tmp_path / "a").files if f.path == "record_lengths.npy"), 0)
        assert read <= 1.2 * share + edges + index, f"{fmt} {split}: read {read:,} bytes for a share of {share:,}"
        assert read >= share - (1 << 20)  # really read here (the first block may be kept from reading the header)
