"""A source that fails midway, with a ragged leaf: tfdata's save raises the source's error instead of hanging
(TensorFlow's own Dataset.save hangs there); the previous version is untouched. Child process, time limit."""

import pytest

from dataset_assets_tests.hostile.conftest import assert_clean_exit, run_child

SAVE = """
import sys, time
import tensorflow as tf
import dataset_assets as da

path, fail_at, n = {path!r}, {fail_at}, {n}
good = tf.data.Dataset.range(10).map(lambda i: {{"r": tf.RaggedTensor.from_row_lengths(tf.range(i % 5 + 2), [1, i % 5 + 1]), "x": i}})
old = da.save(good, path, format="tfdata")

def element(i):
    tf.debugging.assert_less(i, tf.constant(fail_at, tf.int64), message="source failed")
    return {{"r": tf.RaggedTensor.from_row_lengths(tf.range(i % 5 + 2), [1, i % 5 + 1]), "x": i}}

started = time.monotonic()
try:
    da.save(tf.data.Dataset.range(n).map(element), path, format="tfdata", overwrite=True)
except tf.errors.InvalidArgumentError as e:
    assert "source failed" in str(e), e
    print("raised after", round(time.monotonic() - started, 2), "s")
else:
    sys.exit("the failing source was saved")
assert [v.id for v in da.versions(path)] == [old.version]
assert len(list(da.load(path))) == 10 and da.verify(path, good).ok
print("previous version intact")
"""


@pytest.mark.parametrize("fail_at,n", [(500, 1000), (999, 1000), (0, 1000)])  # midway, at the very last element, at once
def test_failing_source_with_ragged_leaf_raises_instead_of_hanging(tmp_path, fail_at, n):
    proc = run_child(SAVE.format(path=str(tmp_path / "art"), fail_at=fail_at, n=n), timeout=150)
    assert_clean_exit(proc)
    assert "raised after" in proc.stdout and "previous version intact" in proc.stdout, proc.stdout
