"""Which elements of an artifact a `load` reads: a TFDS-style `split` slice, then one `shard` of it.

    load(path, split="[10%:20%]")          elements 10% to 20% (TFDS slicing syntax, one artifact)
    load(path, split="[:-1000]")           all but the last 1,000
    load(path, shard=(4, 1))               the second of 4 disjoint, balanced shards
    load(path, split="[:90%]", shard=(num_workers, worker_index))

A split is `[start:stop]` (the brackets may be left out); each bound is an element index or a
percentage (`10%`), negative counting from the end, either may be empty. A percentage becomes an
index as TFDS rounds it by default ("closest"): `round(n * percent / 100)`, Python's rounding, so
`[:50%]` of 5 elements is the first 2. A shard `(num_shards, index)` is a contiguous block of the
split: shard i holds elements `floor(i * m / k)` to `floor((i + 1) * m / k)` of its m elements,
so the k shards hold each element exactly once and differ in size by at most one.

`shuffled_indices` is the order of a global shuffle (`load(path, shuffle_seed=s)`): a uniform
random permutation of the selected elements, drawn anew on each iteration of the dataset.
"""

from __future__ import annotations

import re

import tensorflow as tf

from .errors import DatasetAssetsError

_BOUND = r"\s*(-?\d+%?)?\s*"
_SPLIT = re.compile(rf"^\[?{_BOUND}:{_BOUND}\]?$")


class SelectionError(DatasetAssetsError, ValueError):
    """A `split` or `shard` that names no valid part of the artifact."""


def element_range(num_elements: int, split: str | None = None, shard: tuple[int, int] | None = None) -> range:
    """The elements `split` then `shard` select from an artifact of `num_elements`, in order."""
    start, stop = (0, num_elements) if split is None else _split_bounds(split, num_elements)
    if shard is not None:
        count, index = _shard(shard)
        size = stop - start
        start, stop = start + index * size // count, start + (index + 1) * size // count
    return range(start, stop)


def _split_bounds(split: str, n: int) -> tuple[int, int]:
    match = _SPLIT.match(split) if isinstance(split, str) else None
    if match is None or split.strip().startswith("[") != split.strip().endswith("]"):  # both brackets or neither
        raise SelectionError(
            f"split {split!r} is not a slice; write it as TFDS does, e.g. '[:10%]', '[10%:20%]', '[-1000:]' or '[100:200]'"
        )
    start = _bound(match.group(1), n, 0)
    stop = _bound(match.group(2), n, n)
    return start, max(start, stop)


def _bound(text: str | None, n: int, default: int) -> int:
    if text is None:
        return default
    if text.endswith("%"):
        percent = int(text[:-1])
        if not -100 <= percent <= 100:
            raise SelectionError(f"split bound {text} is outside -100%..100%")
        value = round(n * percent / 100)
    else:
        value = int(text)
    if value < 0:
        value += n
    return min(max(value, 0), n)


def _shard(shard) -> tuple[int, int]:
    try:
        count, index = (int(x) for x in shard)
    except (TypeError, ValueError):
        raise SelectionError(f"shard must be (num_shards, index), such as (4, 0); got {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise SelectionError(f"shard {shard!r}: num_shards must be at least 1 and index from 0 to num_shards - 1")
    return count, index


def check_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SelectionError(f"shuffle_seed must be an int from 0 to 2**63 - 1 (or None for the saved order); got {seed!r}")
    return seed


SHUFFLE_TABLE_MAX = 1 << 24  # up to here a permutation table (8 bytes an element, drawn in ~0.6 s at the maximum)


def shuffled_indices(elements: range, seed: int, batch: int) -> tf.data.Dataset:
    """Batches of the indices in `elements`, in a random order that is the same for the same seed and new on every iteration.

    Each iteration draws a key from the seed (`Dataset.random`, re-drawn per iteration). Up to
    `SHUFFLE_TABLE_MAX` elements the order is a uniform shuffle of a table of the indices
    (`stateless_shuffle` with that key); past it, where a table would cost too much memory,
    element j of the epoch is `index_shuffle(j)`, a keyed pseudo-random bijection (as Grain
    uses). Plain TF ops: a checkpointed iterator saves the key and its position, and a restored
    one rebuilds the same order and goes on from there.
    """
    count = len(elements)
    if count == 0:
        return tf.data.Dataset.range(0).batch(max(batch, 1))
    start = tf.constant(elements.start, tf.int64)

    def one_epoch(draw):
        key = tf.stack([tf.constant(seed, tf.int64), draw])
        if count <= SHUFFLE_TABLE_MAX:
            order = start + tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=key)
            # batches cut from the table, not `from_tensor_slices(order).batch`: that re-batches element by element
            return tf.data.Dataset.range(0, count, batch).map(lambda a: order[a : a + batch])
        positions = tf.data.Dataset.range(count).batch(batch)
        return positions.map(lambda j: start + tf.random.experimental.index_shuffle(j, key, count - 1))

    epochs = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return epochs.flat_map(tf.autograph.experimental.do_not_convert(one_epoch))


SHUFFLE_BUFFER_BYTES = 256 << 20


def buffer_shuffle(dataset: tf.data.Dataset, num_elements: int, total_bytes: int, seed: int) -> tf.data.Dataset:
    """The shuffle of formats read only in their saved order (tfdata, compressed tfrecord): a buffer of ~256 MB of elements.

    At least 1,024 elements, at most all of them (then it is a uniform shuffle); reshuffled each
    iteration, the same for the same seed. Its buffer is part of a checkpoint of the iterator.
    """
    per_element = max(total_bytes // max(num_elements, 1), 1)
    size = int(min(max(SHUFFLE_BUFFER_BYTES // per_element, 1024), max(num_elements, 1)))
    return dataset.shuffle(size, seed=seed, reshuffle_each_iteration=True)
