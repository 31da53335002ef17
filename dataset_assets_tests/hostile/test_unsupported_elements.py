"""Elements no format can hold (TensorList variants, resource handles) are refused before anything is written,
naming the leaf and what to convert it to, instead of a bare KeyError."""

import pytest
import tensorflow as tf

import dataset_assets as da


def _tensor_lists():
    def make(i):
        tl = tf.raw_ops.TensorListFromTensor(tensor=tf.fill([2], i), element_shape=tf.constant([], tf.int32))
        return {"list": tl}

    return tf.data.Dataset.range(3).map(make)


def _resources():
    v = tf.Variable(1.0)
    return tf.data.Dataset.range(3).map(lambda i: {"handle": v.handle})


@pytest.mark.parametrize("make,kind", [(_tensor_lists, "variant"), (_resources, "resource")])
def test_unsupported_element_types_are_refused_by_name(tmp_path, fmt, make, kind):
    ds = make()
    with pytest.raises(da.UnsupportedDatasetError, match=rf"element\['{'list' if kind == 'variant' else 'handle'}'\] is a {kind} tensor"):
        da.save(ds, tmp_path / "art", format=fmt)
    assert not (tmp_path / "art").exists()
