"""Reading pipelines let go of their files: a dropped dataset frees its Python readers, an iterator keeps them.

TF 2.21 keeps every `numpy_function` callable for the life of the process (`dataset_assets.pyfuncs`
says why); before the fix each npy load left two file descriptors open, and a long test run ran out.
"""

import gc
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.pyfuncs import numpy_function

N = 40
SAVED = {**{fmt: {"format": fmt} for fmt in da.FORMATS}, "tfrecord_gzip": {"format": "tfrecord", "compression": "GZIP"}}
RANDOM_ACCESS = ("npy", "hdf5", "pathlist", "tfrecord")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("pyfuncs")
    images = (np.arange(N)[:, None] % 251).astype(np.uint8).repeat(12, 1).reshape(N, 2, 2, 3)
    source = tf.data.Dataset.from_tensor_slices({"image": images, "label": np.arange(N, dtype=np.int64)})
    for name, options in SAVED.items():
        da.save(source, root / name, **options)
    return root


def _held_open(under) -> list[str]:
    """The files under `under` this process holds: by a descriptor, or mapped into its memory."""
    under = str(under)
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed between the listing and the readlink (the listing's own descriptor)
            continue
        held += [target] if target.startswith(under) else []
    with open("/proc/self/maps") as maps:
        held += [line.split(None, 5)[-1].strip() for line in maps if under in line]
    return held


@pytest.mark.parametrize("name", sorted(SAVED))
def test_loading_again_and_again_leaves_no_file_of_the_artifact_open(artifacts, name):
    path = artifacts / name
    for _ in range(3):
        next(iter(da.load(path)))  # a pass begun and dropped
        assert [int(e["label"]) for e in da.load(path).as_numpy_iterator()] == list(range(N))
        assert sorted(int(e["label"]) for e in da.load(path, shuffle_seed=3, split="[25%:]").as_numpy_iterator()) == list(range(10, N))
        if SAVED[name]["format"] in RANDOM_ACCESS and "compression" not in SAVED[name]:
            assert int(da.open(path)[7]["label"]) == 7
    gc.collect()
    assert _held_open(path) == []


@pytest.mark.parametrize("name", sorted(SAVED))
def test_an_iterator_reads_on_after_its_dataset_is_dropped(artifacts, name):
    iterator = iter(da.load(artifacts / name, shuffle_seed=1).batch(7))
    first = next(iterator)["label"].numpy().tolist()
    gc.collect()  # the iterator is all that is left of the pipeline: it must keep the readers alive
    rest = [int(x) for batch in iterator for x in batch["label"].numpy()]
    assert sorted(first + rest) == list(range(N))


def test_pipelines_built_on_many_threads_at_once_each_read_all_and_let_go(artifacts):
    def load_and_read(k):
        name = ("npy", "hdf5", "tfrecord")[k % 3]
        dataset = da.load(artifacts / name, shuffle_seed=k)
        gc.collect()  # on other threads too, while pipelines are traced: none may lose its readers
        return sorted(int(e["label"]) for e in dataset.as_numpy_iterator())

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(load_and_read, range(24))) == [list(range(N))] * 24
    gc.collect()
    assert _held_open(artifacts) == []


def _ragged_source(fail_at=None):
    tokens = tf.ragged.constant([[i] * (i % 4) for i in range(N)], dtype=tf.int64)
    source = tf.data.Dataset.from_tensor_slices({"tokens": tokens, "label": np.arange(N, dtype=np.int64)})
    if fail_at is None:
        return source

    def checked(e):
        with tf.control_dependencies([tf.debugging.assert_less(e["label"], tf.constant(fail_at, tf.int64))]):
            return {**e, "label": tf.identity(e["label"])}

    return source.map(checked)


@pytest.mark.parametrize("fails", [False, True], ids=["saved", "source_fails"])
def test_a_tfdata_save_lets_go_of_its_source(tmp_path, fails):
    # through `from_generator` (ragged leaves): TF keeps its callables, which must no longer hold the source pipeline
    source = _ragged_source(fail_at=25 if fails else None)
    alive = weakref.ref(source)
    if fails:
        with pytest.raises(tf.errors.InvalidArgumentError):
            da.save(source, tmp_path / "a", format="tfdata")
    else:
        da.save(source, tmp_path / "a", format="tfdata")
        assert [int(e["label"]) for e in da.load(tmp_path / "a").as_numpy_iterator()] == list(range(N))
    del source
    gc.collect()
    assert alive() is None


def test_a_traced_callable_lives_as_long_as_its_dataset():
    class Source:
        def rows(self, i):
            return np.int64(i) * 2

    def doubled(source):  # the dataset alone holds `source` once this returns
        return tf.data.Dataset.range(5).map(lambda i: numpy_function(source.rows, [i], tf.int64))

    source = Source()
    alive = weakref.ref(source)
    dataset = doubled(source)
    del source
    gc.collect()
    assert alive() is not None  # the dataset still needs it
    assert list(dataset.as_numpy_iterator()) == [0, 2, 4, 6, 8]
    del dataset
    gc.collect()
    assert alive() is None  # not kept by TF's process-wide default graph
