"""tfrecord `write`: stream batches of the dataset through the `wire.Encoder` into the `shards.Shards`.

Writing is batched end to end: one batch of `iter_batches` is one block of records (about
4 MiB, at most 4096 elements), fingerprinted, encoded in one go and written to its shard.
Every block but the last is full, which the interleaved read relies on; the manifest
details say how to read the files back in order.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from ...columns import COUNT, Layout, batch_size_for, iter_batches
from ...progress import Progress
from ..base import Written
from .options import parse_spec
from .shards import Shards
from .wire import Encoder

_BLOCK_BYTES = 4 << 20  # one write batch = one interleave block


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    block = int(min(batch_size_for(layout, _BLOCK_BYTES, dataset), 4096))
    encoder = Encoder(layout)
    shards = Shards(directory, options)
    progress = Progress(f"save tfrecord {directory.name}", dataset.cardinality())
    last_short = False
    try:
        for batch in iter_batches(dataset, layout, block):
            n = int(batch[COUNT])
            if last_short:  # interleave(block_length) relies on every block but the last being full
                raise RuntimeError(f"iter_batches yielded a short batch before the end ({n} after a short one)")
            last_short = n < block
            fingerprinter.update(batch)
            data, lengths = encoder(batch)
            shards.write(data, lengths)
            progress.update(n, len(data))
    finally:
        files, digests, counts, located = shards.close()
    progress.done()
    details = {
        "features": parse_spec(layout),
        "files": files,
        "records_per_file": counts,
        "compression": options["compression"],
        "cycle_length": len(files) if options["num_shards"] else 1,
        "block_length": block,
        **located,  # where the record index's groups start (framing.RecordIndex)
    }
    return Written(details=details, digests=digests)
