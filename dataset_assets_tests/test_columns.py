"""The columnar encoding's batches: the direct path for plain numeric tensors gives what the general one gives."""

import numpy as np
import pytest
import tensorflow as tf

from dataset_assets.columns import Layout, iter_batches

PLAIN = {
    "scalar": lambda: tf.data.Dataset.range(10),
    "nested": lambda: tf.data.Dataset.from_tensor_slices(
        {"image": np.arange(7 * 4 * 3, dtype=np.uint8).reshape(7, 4, 3), "meta": (np.arange(7, dtype=np.uint64) << 60, np.arange(7) % 2 == 0)}
    ),
    "zero_size": lambda: tf.data.Dataset.from_tensor_slices(np.zeros((5, 0, 3), np.float16)),
}
NOT_PLAIN = {
    "string": tf.TensorSpec([], tf.string),
    "bfloat16": tf.TensorSpec([2], tf.bfloat16),
    "variable": tf.TensorSpec([None], tf.float32),
    "ragged": tf.RaggedTensorSpec([None], tf.int32, ragged_rank=0),
}


def _general(dataset, layout, batch_size):
    return [{k: v.numpy() for k, v in b.items()} for b in layout.encode_batch_fn()(dataset, batch_size)]


@pytest.mark.parametrize("case", sorted(PLAIN))
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_plain_tensors_batch_into_the_same_streams(case, batch_size):
    dataset = PLAIN[case]()
    layout = Layout(dataset.element_spec)
    assert layout.batches_as_streams
    direct, general = list(iter_batches(dataset, layout, batch_size)), _general(dataset, layout, batch_size)
    assert len(direct) == len(general) > 0
    for ours, theirs in zip(direct, general):
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert np.asarray(ours[key]).dtype == np.asarray(theirs[key]).dtype, key
            np.testing.assert_array_equal(ours[key], theirs[key])


@pytest.mark.parametrize("case", sorted(NOT_PLAIN))
def test_other_leaves_go_through_the_general_encoding(case):
    assert not Layout({"x": tf.TensorSpec([], tf.int64), "y": NOT_PLAIN[case]}).batches_as_streams
