"""`tfdata`: TensorFlow's own snapshot format, what `tf.data.Dataset.save` writes and `load` reads, in `data/`.

The format's interface (`base.Format`); the work is split by concern: `snapshot` writes the
snapshot layout itself, a batch at a time, for elements of dense tensors (numbers, bools,
strings; any shape), uncompressed or GZIP; `tf_save` hands anything else (ragged leaves,
SNAPPY) to TensorFlow's own `Dataset.save`, guarded and fingerprinted; `reader` reads either
back through TensorFlow's `Dataset.load`.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import tensorflow as tf

from ...columns import Layout
from ...errors import UnsupportedDatasetError
from ...progress import Progress
from ..base import Written, unknown_options
from . import snapshot, tf_save
from .reader import COMPRESSIONS, SUBDIR, read

NAME = "tfdata"
VERSION = 1
OPTIONS = {"compression": None, "num_shards": 1}


def check(layout: Layout, options: dict) -> dict:
    options = unknown_options(NAME, options, OPTIONS)
    if options["compression"] not in COMPRESSIONS:
        raise UnsupportedDatasetError(f"tfdata option compression={options['compression']!r} is not supported; use one of {COMPRESSIONS}")
    shards = options["num_shards"]
    if not isinstance(shards, numbers.Integral) or isinstance(shards, bool) or shards < 1:
        raise UnsupportedDatasetError(f"tfdata option num_shards={shards!r} must be an int >= 1")
    return {"compression": options["compression"], "num_shards": int(shards)}


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    target = directory / SUBDIR
    progress = Progress(f"save tfdata {directory.name}", dataset.cardinality())
    digests = {}
    if snapshot.writes(layout, options):
        written = snapshot.write(dataset, layout, target, options, fingerprinter, progress)
        digests = {f"{SUBDIR}/{path}": digest for path, digest in written.items()}
    else:
        tf_save.write(dataset, layout, target, options, fingerprinter, progress)
    progress.done()
    return Written(details={"path": SUBDIR, "compression": options["compression"], "num_shards": options["num_shards"]}, digests=digests)


__all__ = ["COMPRESSIONS", "NAME", "OPTIONS", "SUBDIR", "VERSION", "check", "read", "write"]
