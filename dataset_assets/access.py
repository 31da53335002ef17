"""`open`: random access to one version of an artifact, element by element, as NumPy values.

    art = da.open("artifacts/train")      # pinned to the current version, like load
    len(art)                              # number of elements
    art[7]                                # one element, in the element_spec's structure
    art[10:20], art[[3, 1, 4]]            # several: a list of elements, in the order asked
    art.element_spec, art.manifest

Leaves come back as NumPy values (`bytes` for strings, as `.numpy()` gives them); ragged leaves
as `tf.RaggedTensor`, the one type that keeps their structure. Formats offer it through
`open_rows` (npy, hdf5, pathlist and uncompressed tfrecord); every byte read is checked, and
checked blocks are kept (up to `formats._columnar.RANDOM_CACHE_BYTES`), so reading near
elements again costs no I/O.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import formats
from .api import open_artifact
from .errors import ArtifactError
from .manifest import Manifest

_AT_ONCE = 1 << 16  # indices gathered per call: a large request is served in pieces of bounded memory


def open(path, *, version: str | None = None, checked: bool = True, storage_options: dict | None = None) -> "Artifact":  # noqa: A001 -- da.open, as the contract names it
    """The artifact at `path` (its current version, or `version`) for random access; see the module docs.

    Remote versions are fetched into the local cache first. Raises ArtifactError for a format
    without random access (tfdata, compressed tfrecord), naming the formats that have it.
    """
    opened = open_artifact(path, version=version, storage_options=storage_options)
    manifest = opened.manifest
    module = formats.get(manifest.format)
    open_rows = getattr(module, "open_rows", None)
    rows = open_rows(opened.directory, manifest, manifest.layout(), checked) if open_rows else None
    if rows is None:
        raise ArtifactError(
            f"{opened.root} is saved as {manifest.format}{_how(manifest)}, which has no random access; npy, hdf5, pathlist and "
            f"uncompressed tfrecord have it. Convert it, e.g. `dataset-assets convert {opened.root} OUT --format npy`"
        )
    return Artifact(manifest, rows, str(opened.root))


def _how(manifest: Manifest) -> str:
    compression = manifest.details.get("compression") if manifest.format == "tfrecord" else None
    return f" with {compression} compression" if compression else ""


class Artifact:
    """One version of an artifact, open for random access (`dataset_assets.open`)."""

    def __init__(self, manifest: Manifest, rows, where: str):
        self._manifest, self._rows, self._where = manifest, rows, where
        self._layout = manifest.layout()

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def element_spec(self):
        return self._layout.element_spec

    def __len__(self) -> int:
        return self._manifest.num_elements

    def __repr__(self) -> str:
        m = self._manifest
        return f"<dataset_assets.Artifact {self._where} version {m.version}: {m.num_elements} elements, {m.format}>"

    def __getitem__(self, key):
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            one = getattr(self._rows, "one", None)  # a single element without arrays of one (npy, hdf5)
            return one(self._index(key)) if one is not None else self._take(np.array([self._index(key)], np.int64))[0]
        if isinstance(key, slice):
            return self._take(np.arange(*key.indices(len(self)), dtype=np.int64))
        indices = np.asarray(key)
        if indices.dtype == bool or indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
            raise TypeError(f"an Artifact is indexed by an int, a slice or a list of ints, not {type(key).__name__} {key!r:.80}")
        if indices.dtype.kind == "u":  # compared before the cast: 2**64 - 1 as int64 is -1, the last element
            too_big = indices >= len(self)
            if too_big.any():
                raise IndexError(f"index {int(indices[too_big][0])} is out of range for {self._where} ({len(self)} elements)")
        indices = indices.astype(np.int64)
        bad = (indices < -len(self)) | (indices >= len(self))
        if bad.any():
            raise IndexError(f"index {int(indices[bad][0])} is out of range for {self._where} ({len(self)} elements)")
        return self._take(np.where(indices < 0, indices + len(self), indices))

    def _index(self, i: int) -> int:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for {self._where} ({len(self)} elements)")
        return int(i) % len(self)

    def _take(self, indices: np.ndarray) -> list:
        out = []
        for a in range(0, len(indices), _AT_ONCE):
            out += self._rows.elements(indices[a : a + _AT_ONCE])
        return out
