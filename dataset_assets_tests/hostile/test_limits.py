"""Issue 10 (11): `save(..., max_elements=, max_bytes=)` stops a source past the bound with `LimitExceededError`; the
previous version stays current and loads, and no new version is left behind, in every format."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.hostile.conftest import images


def endless(produced: list | None = None) -> tf.data.Dataset:
    """A source of unknown size that never ends (what a wrong glob or a missing .take looks like); `produced` counts what it yielded."""
    def gen():
        for i in itertools.count():
            if produced is not None:
                produced.append(i)
            yield {"image": np.full((16, 16, 3), i % 256, np.uint8), "label": np.int64(i)}

    spec = {"image": tf.TensorSpec((16, 16, 3), tf.uint8), "label": tf.TensorSpec((), tf.int64)}
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def assert_untouched(path, first) -> None:
    (info,) = da.versions(path)
    assert info.id == first.version and info.current
    assert_same_elements(da.load(path), images())


def test_an_endless_source_stops_at_max_elements(artifact):
    path, fmt = artifact
    first = da.read_manifest(path)
    with pytest.raises(da.LimitExceededError, match="max_elements=50"):
        da.save(endless(), path, format=fmt, overwrite=True, max_elements=50)
    assert_untouched(path, first)


def test_a_source_past_max_bytes_stops(artifact):
    path, fmt = artifact
    first = da.read_manifest(path)
    produced = []
    with pytest.raises(da.LimitExceededError, match="max_bytes=20000"):  # the first batch passes it
        da.save(endless(produced), path, format=fmt, overwrite=True, max_bytes=20_000, max_elements=1_000_000)
    assert_untouched(path, first)
    # stopped at the batch past the bound (a batch, plus what the pipeline read ahead), not at max_elements
    assert len(produced) < 50_000, f"{fmt}: the source was read for {len(produced)} elements past a bound of 20,000 bytes"


def test_a_known_size_past_the_bound_is_refused_before_writing(tmp_path):
    with pytest.raises(da.LimitExceededError, match="holds 20 elements, more than max_elements=19"):
        da.save(images(), tmp_path / "a", format="npy", max_elements=19)
    assert not (tmp_path / "a").exists() or not da.versions(tmp_path / "a")


def test_within_the_bounds_the_save_is_unchanged(tmp_path):
    bounded = da.save(images(), tmp_path / "a", format="npy", max_elements=20, max_bytes=20 * (16 * 16 * 3 + 8))
    assert bounded.fingerprint == da.fingerprint(images()) and bounded.num_elements == 20
    with pytest.raises(da.UnsupportedDatasetError, match="max_bytes=-1"):
        da.save(images(), tmp_path / "b", format="npy", max_bytes=-1)
