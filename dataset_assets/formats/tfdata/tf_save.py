"""tfdata through TensorFlow's own `Dataset.save`: for elements `snapshot` does not write (ragged, SNAPPY).

TensorFlow iterates the source itself, so what reaches its save is guarded (it never returns
from an input that fails midway) and, where the layout allows, fingerprinted on the way in;
otherwise the snapshot is read back through TF's reader to fingerprint what was written.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import tensorflow as tf

from ...columns import COUNT, Layout, batch_size_for, iter_batches
from ...progress import Progress
from ...pyfuncs import from_generator
from .reader import load


def write(dataset: tf.data.Dataset, layout: Layout, target: Path, options: dict, fingerprinter, progress: Progress) -> None:
    with contextlib.ExitStack() as used:  # then let go of the generators, which TF would keep for the life of the process
        tapped, failures = _fingerprinted(dataset, layout, fingerprinter, progress, used)
        if tapped is None:
            dataset, failures = _ending_at_source_error(dataset, layout, used)
        save(tapped if tapped is not None else dataset, target, options)
    if failures:
        raise failures[0]  # the source's own error (or the bound's), as the other formats raise it
    if tapped is None:
        # TF's save iterates the dataset itself, out of our sight: fingerprint what was written instead
        for batch in iter_batches(load(target, layout.element_spec, options), layout):
            fingerprinter.update(batch)
            progress.update(int(batch[COUNT]), sum(a.nbytes for a in batch.values()))


def _ending_at_source_error(dataset: tf.data.Dataset, layout: Layout, used: contextlib.ExitStack) -> tuple[tf.data.Dataset, list]:
    """`dataset`, but ending cleanly where the source fails, its error kept in the list returned.

    TensorFlow's `Dataset.save` never returns when its input fails after the first element
    (tensorflow/tensorflow#61736: a failure on the first element raises). So the source is
    iterated here, a batch at a time (no per-element Python), and handed to the save through a
    generator that ends the stream at the first error; `write` raises that error once TensorFlow's
    save has returned, and `save` then removes what was written. Variable-shape leaves are batched
    as ragged and given back as the tensors they were. Where no batching gives back the same
    element_spec (a variable-shape leaf of two or more dimensions, zero-size leaves) the source
    goes to the save unguarded: docs/safety.md says so. The guard alone adds 8% to TF's save of
    1,000,000 x 64 float32 (4.73 s to 5.10 s): the price of never hanging.
    """
    if any(col.empty for col in layout.columns):  # zero-size: see _fingerprinted
        return dataset, []
    size = batch_size_for(layout, dataset=dataset)
    ragged = any(leaf.ragged_rank is None and not leaf.columns[0].fixed for leaf in layout.leaves)  # variable-shape dense
    batched = dataset.ragged_batch(size) if ragged else dataset.batch(size)
    failures: list[Exception] = []

    def batches():
        try:
            yield from batched
        except tf.errors.OpError as e:
            failures.append(e)

    guarded, release = from_generator(batches, batched.element_spec)
    used.callback(release)
    guarded = guarded.unbatch()
    if ragged:  # a variable-shape leaf comes back as a ragged tensor of ragged_rank 0, that is a tensor: made one again
        as_given = (lambda *parts: parts) if type(guarded.element_spec) is tuple else (lambda element: element)  # noqa: E731 -- map unpacks tuples
        guarded = guarded.map(tf.autograph.experimental.do_not_convert(as_given), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return (guarded, failures) if _same_spec(guarded.element_spec, dataset.element_spec) else (dataset, [])


def _same_spec(a, b) -> bool:
    """The same element_spec, leaf types included (`==` takes a ragged spec of ragged_rank 0 for a tensor's)."""
    flat_a, flat_b = tf.nest.flatten(a), tf.nest.flatten(b)
    return a == b and [type(x) for x in flat_a] == [type(x) for x in flat_b]


def _fingerprinted(
    dataset: tf.data.Dataset, layout: Layout, fingerprinter, progress: Progress, used: contextlib.ExitStack
) -> tuple[tf.data.Dataset | None, list]:
    """`dataset` unchanged but fingerprinted batch by batch on its way into TF's save (one pass), ending
    cleanly at the first error; (None, []) where it cannot be (those are read back after the save).

    Batch, encode the batch's streams in TensorFlow, hash them in a Python generator that yields the
    batch on, unbatch: ~2 us per element where reading the snapshot back cost ~10 us (TF's snapshot
    reader). The generator is also the guard `_ending_at_source_error` describes: an error of the
    source, or of the fingerprint (a bound passed), ends the stream instead of reaching TF's save,
    which may never return from an input that fails midway; the error is kept in the list returned
    and raised once the save is back. One Python layer does both: a separate guard and
    `numpy_function` tap cost twice the time of TF's own save on the mixed workload.
    Not for variable-shape dense leaves (batch + unbatch would change the element_spec) or zero-size
    ones (TF's unbatch segfaults on them).
    """
    if not layout.batches_directly or any(col.empty for col in layout.columns):
        return None, []
    batched = dataset.batch(batch_size_for(layout, dataset=dataset))
    unpacked = type(batched.element_spec) is tuple  # map passes a tuple's parts as arguments, anything else as one

    def with_streams(*batch):
        return batch, layout.encode_batch(*tf.nest.flatten(batch, expand_composites=False))

    encoded = batched.map(tf.autograph.experimental.do_not_convert(with_streams)).prefetch(1)
    failures: list[Exception] = []

    def batches():
        try:
            for batch, streams in encoded:
                arrays = {k: v.numpy() for k, v in streams.items()}
                fingerprinter.update(arrays)
                progress.update(int(arrays[COUNT]), sum(a.nbytes for a in arrays.values()))
                yield batch if unpacked else batch[0]
        except Exception as e:  # noqa: BLE001 -- kept and raised by `write` once TF's save has returned
            failures.append(e)

    tapped, release = from_generator(batches, batched.element_spec)
    used.callback(release)
    tapped = tapped.unbatch()
    return (tapped, failures) if _same_spec(tapped.element_spec, dataset.element_spec) else (None, [])


def save(dataset: tf.data.Dataset, target: Path, options: dict) -> None:
    shards, compression = options["num_shards"], options["compression"]
    if shards == 1:
        # TF runs a shard_func once per element, which makes save ~9x slower on small elements;
        # without one, TF 2.x writes everything to shard 0 (checked below, it is not documented)
        dataset.save(str(target), compression=compression)
        if len(list(target.glob("*/*.shard"))) <= 1:
            return
        shutil.rmtree(target)  # a TF that spreads elements over shards by itself: pin them to shard 0
    # Element i goes to shard i % shards, so a cycle-`shards` interleave reads them back in order.
    # The index comes from a counter, not from `dataset.enumerate()` + a map dropping it again: a
    # map turns ragged_rank-0 leaves into plain tensors and the element_spec would change.
    # TF's save calls shard_func once per element, in order, on one thread (SaveDatasetOp::WriteData);
    # the read-back fingerprint and `verify(path, dataset)` would notice if that ever changed.
    counter = tf.Variable(0, dtype=tf.int64, trainable=False)

    def shard_func(*_):
        return tf.math.floormod(counter.assign_add(1) - 1, shards)

    dataset.save(str(target), compression=compression, shard_func=shard_func)

