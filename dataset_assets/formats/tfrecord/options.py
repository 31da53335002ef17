"""tfrecord options and feature spec: which dtypes are stored how, `check`, and the documented `parse_spec`.

int64, float32 and string columns are stored natively (flattened); every other dtype in
`RAW` as ONE bytes entry of the flattened tensor's little-endian bytes. A column whose shape
varies has a companion `<name>#shape` int64 feature. `parse_spec` is what goes to the
manifest's details["features"] and what `read` checks the manifest against.
"""

from __future__ import annotations

import tensorflow as tf

from ...columns import Layout
from ...errors import UnsupportedDatasetError
from ..base import unknown_options

NAME = "tfrecord"
OPTIONS: dict = {"compression": None, "num_shards": None, "shard_bytes": None}
DEFAULT_SHARD_BYTES = 256 << 20
NATIVE = {tf.int64: ("int64", "int64_list"), tf.float32: ("float", "float_list"), tf.string: ("bytes", "bytes_list")}
RAW = (tf.float16, tf.bfloat16, tf.float64, tf.bool, tf.complex64, tf.complex128)
RAW += (tf.int8, tf.int16, tf.int32, tf.uint8, tf.uint16, tf.uint32, tf.uint64)


def check(layout: Layout, options: dict) -> dict:
    options = unknown_options(NAME, options, OPTIONS)
    compression = options["compression"]
    if isinstance(compression, str) and compression.upper() in ("GZIP", "ZLIB"):
        compression = compression.upper()
    elif compression not in (None, ""):
        raise UnsupportedDatasetError(f"tfrecord option compression={compression!r} is not one of None, 'GZIP', 'ZLIB'")
    num_shards, shard_bytes = options["num_shards"], options["shard_bytes"]
    for name, value in (("num_shards", num_shards), ("shard_bytes", shard_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UnsupportedDatasetError(f"tfrecord option {name}={value!r} must be a positive integer")
    if num_shards is not None and shard_bytes is not None:
        raise UnsupportedDatasetError("tfrecord takes num_shards or shard_bytes, not both")
    if num_shards is None and shard_bytes is None:
        shard_bytes = DEFAULT_SHARD_BYTES
    for col in layout.columns:
        if col.dtype not in NATIVE and col.dtype not in RAW:
            raise UnsupportedDatasetError(
                f"feature {col.name!r} has dtype {col.dtype.name}, which tfrecord cannot store; cast it to a standard numeric dtype"
            )
    names = [f[k] for f in parse_spec(layout) for k in ("name", "shape_feature") if f[k]]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise UnsupportedDatasetError(
            f"tfrecord feature names must be unique, but {', '.join(map(repr, clashes))} would occur twice "
            "(a dict key containing '/' or '#' mimics another leaf's name); rename the key or use format='npy'"
        )
    return {"compression": compression or None, "num_shards": num_shards, "shard_bytes": shard_bytes}


def parse_spec(layout: Layout) -> list[dict]:
    """The documented per-feature spec (goes to manifest details["features"])."""
    out = []
    for col in layout.columns:
        native = col.dtype in NATIVE
        out.append(
            {
                "name": col.name,
                "kind": NATIVE[col.dtype][0] if native else "bytes",
                "encoding": "native" if native else "raw",
                "dtype": col.dtype.name,
                "shape": list(col.shape),
                "shape_feature": None if col.fixed else f"{col.name}#shape",
            }
        )
    return out
