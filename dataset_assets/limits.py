"""`save(..., max_elements=, max_bytes=)`: a source that runs past a bound stops the save with a clear error.

A bound guards against a source that is much larger than meant (a missing `.take`, a generator
that never ends, a wrong glob). The element bound also caps what is read (`take(max + 1)`), so an
endless source stops; the byte bound counts the raw bytes of the elements (the columnar streams
the fingerprint hashes), checked batch by batch as they are written. Either way nothing is
committed: the previous version stays current.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .errors import LimitExceededError, UnsupportedDatasetError
from .fingerprint import Fingerprinter


class Limits:
    def __init__(self, max_elements: int | None = None, max_bytes: int | None = None):
        for name, value in (("max_elements", max_elements), ("max_bytes", max_bytes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise UnsupportedDatasetError(f"{name}={value!r}: give an int >= 0, or None for no bound")
        self.max_elements, self.max_bytes = max_elements, max_bytes

    @property
    def active(self) -> bool:
        return self.max_elements is not None or self.max_bytes is not None

    def apply(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """The dataset, read no further than one element past the element bound (refused at once when its size is known)."""
        if self.max_elements is None:
            return dataset
        n = int(dataset.cardinality())
        if n > self.max_elements:
            raise LimitExceededError(f"the dataset holds {n} elements, more than max_elements={self.max_elements}; nothing was written")
        return dataset.take(self.max_elements + 1)


class BoundedFingerprinter(Fingerprinter):
    """A `Fingerprinter` that raises `LimitExceededError` on the batch that passes a bound (and remembers it)."""

    def __init__(self, layout, limits: Limits):
        super().__init__(layout)
        self.limits, self.raw_bytes, self.exceeded = limits, 0, None

    def update(self, batch: dict[str, np.ndarray]) -> None:
        super().update(batch)
        self.raw_bytes += sum(np.asarray(batch[key]).nbytes for key in self._hashes)
        self.check()

    def check(self) -> None:
        limits, what = self.limits, None
        if limits.max_elements is not None and self.count > limits.max_elements:
            what = f"more than max_elements={limits.max_elements} elements"
        elif limits.max_bytes is not None and self.raw_bytes > limits.max_bytes:
            what = f"more than max_bytes={limits.max_bytes} bytes of data ({self.raw_bytes} in the first {self.count} elements)"
        if what:
            self.exceeded = self.exceeded or LimitExceededError(
                f"the dataset holds {what}; the save stopped and nothing was committed (the previous version is untouched). "
                "Raise the bound, or save a part of the dataset (dataset.take(n))"
            )
            raise self.exceeded
