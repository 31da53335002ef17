"""A few records (`tf.train.Example`s) to the stream dict, with protobuf and numpy: random access to single elements.

`reader._to_streams(parse_example(...))` does this inside TensorFlow for batches; one call of a
traced function costs ~600 us, most of a single-element read (`dataset_assets.open`'s `art[i]`).
Parsed here by protobuf's own parser (no pickle, no eval), the same element costs tens of
microseconds. The streams are the ones `_to_streams` gives, value for value; a record that does
not hold what the manifest's features say raises ArtifactError, as `parse_example` would fail.
"""

from __future__ import annotations

import numpy as np
from google.protobuf.message import DecodeError
from tensorflow.core.example.example_pb2 import Example

from ...columns import COUNT, Layout
from ...errors import ArtifactError
from .options import NATIVE

_LISTS = {"int64": ("int64_list", np.int64), "float": ("float_list", np.float32), "bytes": ("bytes_list", None)}


class ExampleDecoder:
    """`decode(records, where)`: {COUNT: k, stream key: its rows} of k serialized Examples; the plan per column made once."""

    def __init__(self, layout: Layout, names: list[str]):
        self.columns = []
        for col, name in zip(layout.columns, names):
            raw = col.dtype not in NATIVE
            field, dtype = _LISTS[NATIVE[col.dtype][0] if not raw else "bytes"]
            size = int(np.prod(col.shape, dtype=np.int64)) if col.fixed else None
            keys = (col.key("values"), None if col.fixed else col.key("shapes"), col.key("lengths") if col.is_string else None)
            self.columns.append((name, f"{name}#shape", field, dtype or col.storage_dtype, raw, size, tuple(col.shape), keys))

    def decode(self, records: list[bytes], where) -> dict:
        """`where`: what to name in errors (the files read)."""
        features = []
        for k, record in enumerate(records):
            try:
                features.append(Example.FromString(record).features.feature)
            except DecodeError as e:
                raise ArtifactError(f"{where}: record {k} of the request is not a tf.train.Example ({e}); the artifact is damaged") from None
        count = len(records)
        streams = {COUNT: np.int64(count)}
        for name, shape_name, field, dtype, raw, size, shape, (values_key, shapes_key, lengths_key) in self.columns:
            values, shapes = [], []
            for feature in features:
                found = getattr(feature[name], field).value if name in feature else None
                if shapes_key is not None:
                    dims = list(feature[shape_name].int64_list.value) if shape_name in feature else []
                    if len(dims) != len(shape):
                        raise _bad(where, name, f"its shape feature holds {dims}, not {len(shape)} dimensions")
                    shapes.append(dims)
                if raw:  # the storage dtype's bytes: one value if fixed, joined if not
                    if found is None or (size is not None and len(found) != 1):
                        raise _bad(where, name, "does not hold one bytes value")
                    data = b"".join(found)
                    if len(data) % dtype.itemsize:
                        raise _bad(where, name, f"holds {len(data)} bytes, not whole {dtype} values")
                    found = np.frombuffer(data, dtype)
                elif found is None:
                    if size is not None:
                        raise _bad(where, name, "is missing")
                    found = ()
                if size is not None and len(found) != size:
                    raise _bad(where, name, f"holds {len(found)} values, its shape {list(shape)} has {size}")
                values.append(found)
            if shapes_key is not None:
                streams[shapes_key] = np.array(shapes, np.int64).reshape(count, len(shape))
            if lengths_key is not None:
                flat = [v for found in values for v in found]
                streams[lengths_key] = np.fromiter(map(len, flat), np.int64, len(flat))
                streams[values_key] = np.array(b"".join(flat), dtype=object)
                continue
            joined = np.asarray(values[0], dtype) if count == 1 else np.concatenate([np.asarray(v, dtype) for v in values])
            streams[values_key] = joined.reshape(count, *shape) if size is not None else joined
        return streams


def _bad(where: str, name: str, what: str) -> ArtifactError:
    return ArtifactError(f"{where}: feature {name!r} of a record {what}; the record does not match the manifest, the artifact is damaged")
