"""Content fingerprint: a digest of the elements themselves, the same whatever the format.

It hashes every stream of the columnar encoding (see `columns`) separately, so the
result does not depend on how the elements were batched while being hashed, and then
hashes those digests together with the element_spec and the element count.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .columns import COUNT, Layout
from .spec import spec_to_json


class Fingerprinter:
    def __init__(self, layout: Layout):
        self.layout = layout
        self.count = 0
        self._hashes = {col.key(s): hashlib.sha256() for col, s in layout.stream_keys()}

    def update(self, batch: dict[str, np.ndarray]) -> None:
        self.count += int(batch[COUNT])
        for key, h in self._hashes.items():
            h.update(np.ascontiguousarray(batch[key]).data)

    def hexdigest(self) -> str:
        top = hashlib.sha256()
        header = {"spec": spec_to_json(self.layout.element_spec), "count": self.count}
        top.update(json.dumps(header, sort_keys=True).encode())
        for key, h in self._hashes.items():
            top.update(key.encode() + h.digest())
        return "sha256:" + top.hexdigest()


def fingerprint(dataset, layout: Layout | None = None) -> str:
    """Fingerprint of a dataset, computed by streaming it once."""
    from .columns import iter_batches

    if layout is None:
        spec_to_json(dataset.element_spec)  # first, as save does: its errors name the unsupported feature
        layout = Layout(dataset.element_spec)
    fp = Fingerprinter(layout)
    for batch in iter_batches(dataset, layout):
        fp.update(batch)
    return fp.hexdigest()
