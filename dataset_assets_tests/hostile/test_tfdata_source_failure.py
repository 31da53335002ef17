"""A source that fails midway: tfdata's save raises the source's error instead of hanging (TensorFlow's own
Dataset.save never returns once its input fails after the first element, tensorflow/tensorflow#61736);
the previous version is untouched. Every kind of element the guard covers, in a child process, time limit."""

import pytest

from dataset_assets_tests.hostile.conftest import assert_clean_exit, run_child

SAVE = """
import sys, time
import tensorflow as tf
import dataset_assets as da

fail_at, n = {fail_at}, {n}
KINDS = {{  # fixed-shape numbers, a ragged leaf (TF's save, guarded), variable shapes of one and two dimensions, zero-size, strings, all at once
    "fixed": lambda i: {{"x": tf.fill([4], tf.cast(i, tf.float32)), "i": i}},
    "ragged": lambda i: {{"r": tf.RaggedTensor.from_row_lengths(tf.range(i % 5 + 2), [1, i % 5 + 1]), "x": i}},
    "variable": lambda i: {{"t": tf.range(i % 4), "i": i}},
    "variable_2d": lambda i: tf.zeros(tf.stack([i % 3, i % 2 + 1])),
    "zero_size": lambda i: (tf.zeros([0, 3]), i),
    "strings": lambda i: (tf.strings.as_string(i), i),
    "mixed": lambda i: {{"r": tf.RaggedTensor.from_row_lengths(tf.range(i % 5 + 2), [1, i % 5 + 1]), "v": tf.zeros([i % 3]), "s": tf.strings.as_string(i)}},
}}
for kind, make in KINDS.items():
    path = {path!r} + "/" + kind
    good = tf.data.Dataset.range(10).map(make)
    old = da.save(good, path, format="tfdata")

    def element(i, make=make):
        tf.debugging.assert_less(i, tf.constant(fail_at, tf.int64), message="source failed")
        return make(i)

    started = time.monotonic()
    try:
        da.save(tf.data.Dataset.range(n).map(element), path, format="tfdata", overwrite=True)
    except tf.errors.InvalidArgumentError as e:
        assert "source failed" in str(e), e
        print(kind, "raised after", round(time.monotonic() - started, 2), "s", flush=True)
    else:
        sys.exit(kind + ": the failing source was saved")
    assert [v.id for v in da.versions(path)] == [old.version]
    assert len(list(da.load(path))) == 10 and da.verify(path, good).ok
    print(kind, "previous version intact", flush=True)
"""
KINDS = ("fixed", "ragged", "variable", "variable_2d", "zero_size", "strings", "mixed")


@pytest.mark.parametrize("fail_at,n", [(500, 1000), (999, 1000), (0, 1000)])  # midway, at the very last element, at once
def test_a_failing_source_raises_instead_of_hanging_and_keeps_the_previous_version(tmp_path, fail_at, n):
    proc = run_child(SAVE.format(path=str(tmp_path), fail_at=fail_at, n=n), timeout=240)
    assert_clean_exit(proc)
    for kind in KINDS:
        assert f"{kind} raised after" in proc.stdout and f"{kind} previous version intact" in proc.stdout, proc.stdout
