"""`element_spec` as plain JSON, so a manifest never needs pickle or a TF proto to be read."""

from __future__ import annotations

import collections
from typing import Any

import tensorflow as tf

from .errors import UnsupportedDatasetError


def _shape_to_json(shape: tf.TensorShape, where: str) -> list[int | None]:
    if shape.rank is None:
        raise UnsupportedDatasetError(
            f"{where} has unknown rank (shape {shape}); give it a known rank before saving, "
            "e.g. dataset.map(lambda x: tf.ensure_shape(x, [None, 3]))"
        )
    return [d for d in shape.as_list()]


def spec_to_json(spec: Any, where: str = "element") -> dict:
    """Describe a (nested) element_spec as JSON-ready dicts."""
    if isinstance(spec, tf.TensorSpec):
        if spec.dtype in (tf.variant, tf.resource):
            raise UnsupportedDatasetError(
                f"{where} is a {spec.dtype.name} tensor (a TensorList, a nested dataset or a resource handle such as a "
                "variable), which no format can save; map it to plain tensors first (for a TensorList, "
                "tf.raw_ops.TensorListStack; for a variable, its value)"
            )
        _refuse_quantized(spec.dtype, where)
        return {"type": "tensor", "dtype": spec.dtype.name, "shape": _shape_to_json(spec.shape, where)}
    if isinstance(spec, tf.RaggedTensorSpec):
        _refuse_quantized(spec.dtype, where)
        return {
            "type": "ragged",
            "dtype": spec.dtype.name,
            "shape": _shape_to_json(spec.shape, where),
            "ragged_rank": spec.ragged_rank,
            "row_splits_dtype": spec.row_splits_dtype.name,
        }
    if isinstance(spec, dict):
        for key in spec:
            if not isinstance(key, str):
                raise UnsupportedDatasetError(
                    f"{where} has a dict key {key!r} of type {type(key).__name__}; only string keys can be saved"
                )
        return {"type": "dict", "items": {k: spec_to_json(v, f"{where}[{k!r}]") for k, v in spec.items()}}
    if isinstance(spec, tuple) and hasattr(spec, "_fields"):
        return {
            "type": "namedtuple",
            "name": type(spec).__name__,
            "fields": list(spec._fields),
            "items": [spec_to_json(v, f"{where}.{f}") for f, v in zip(spec._fields, spec)],
        }
    if isinstance(spec, tuple):
        return {"type": "tuple", "items": [spec_to_json(v, f"{where}[{i}]") for i, v in enumerate(spec)]}
    if isinstance(spec, tf.SparseTensorSpec):
        raise UnsupportedDatasetError(
            f"{where} is a tf.SparseTensor; convert it with tf.sparse.to_dense or to a tf.RaggedTensor before saving"
        )
    raise UnsupportedDatasetError(f"{where} has a spec of type {type(spec).__name__}, which cannot be saved")


def _refuse_quantized(dtype: tf.DType, where: str) -> None:
    if dtype.is_quantized:  # TensorFlow itself has no kernels to batch or reshape them
        plain = {"qint8": "int8", "quint8": "uint8", "qint16": "int16", "quint16": "uint16", "qint32": "int32"}.get(dtype.name, "an integer type")
        raise UnsupportedDatasetError(
            f"{where} is a quantized {dtype.name} tensor, which no format can save; store its integers instead, "
            f"e.g. dataset.map(lambda x: tf.bitcast(x, tf.{plain}))"
        )


def spec_from_json(doc: dict) -> Any:
    """Rebuild the element_spec written by `spec_to_json`."""
    kind = doc["type"]
    if kind == "tensor":
        return tf.TensorSpec(doc["shape"], tf.as_dtype(doc["dtype"]))
    if kind == "ragged":
        return tf.RaggedTensorSpec(
            doc["shape"], tf.as_dtype(doc["dtype"]), doc["ragged_rank"], tf.as_dtype(doc["row_splits_dtype"])
        )
    if kind == "dict":
        return {k: spec_from_json(v) for k, v in doc["items"].items()}
    if kind == "namedtuple":
        cls = collections.namedtuple(doc["name"], doc["fields"])
        return cls(*(spec_from_json(v) for v in doc["items"]))
    if kind == "tuple":
        return tuple(spec_from_json(v) for v in doc["items"])
    raise ValueError(f"unknown spec type {kind!r}")


def unnamed(spec: Any) -> Any:
    """`spec` with every TensorSpec's `name` dropped, as artifacts store it (names label graph inputs, not data).

    `from_generator(output_signature=tf.TensorSpec(..., name="x"))` gives named specs; a
    saved artifact loads with `name=None`, and compared as is, the two never matched.
    """
    return tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape, s.dtype) if isinstance(s, tf.TensorSpec) else s, spec)


def leaf_paths(spec: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, leaf spec) in tf.nest order; paths join dict keys and tuple indices with '/'."""
    if isinstance(spec, dict):
        out = []
        for key in sorted(spec):
            out += leaf_paths(spec[key], f"{prefix}{key}/")
        return out
    if isinstance(spec, tuple):
        out = []
        names = getattr(spec, "_fields", None) or [str(i) for i in range(len(spec))]
        for name, sub in zip(names, spec):
            out += leaf_paths(sub, f"{prefix}{name}/")
        return out
    return [(prefix.rstrip("/") or "value", spec)]
