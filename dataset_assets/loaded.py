"""The dataset `load` returns: a plain `tf.data.Dataset` whose iterator names the damaged file.

Reads are checked inside TensorFlow (TFRecord and snapshot record CRCs) or inside the
library's chunk readers (block CRC-32Cs), so a damaged byte stops the pipeline with a
TensorFlow error before any wrong element is yielded. Iterating this dataset directly turns
that error into `ArtifactError`, naming the file and the bytes that no longer match: the
library's own message where it raised one, else a block-checksum scan of the version finds
the file. Datasets derived from it (`.map`, `.batch`, ...) are ordinary TensorFlow datasets
and raise TensorFlow's error, whose message holds the same text for npy, hdf5 and pathlist.
The iterator stays a `tf.data` iterator: `tf.train.Checkpoint(iterator=it)` works as usual.
"""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf
from tensorflow.python.data.ops import iterator_ops  # the iterator class a Dataset's __iter__ returns

from .errors import ArtifactError
from .manifest import Manifest, locate_damage

_MARK = "ArtifactError: "  # how the library's chunk readers tag their messages inside TF errors


class LoadedDataset(tf.data.Dataset):
    def __init__(self, inner: tf.data.Dataset, directory: Path, manifest: Manifest):
        self._inner, self._directory, self._manifest = inner, directory, manifest
        super().__init__(inner._variant_tensor)

    @property
    def manifest(self) -> Manifest:
        """The manifest of the version this dataset reads."""
        return self._manifest

    def _inputs(self):
        return [self._inner]

    @property
    def element_spec(self):
        return self._inner.element_spec

    def __iter__(self):
        if not tf.executing_eagerly():
            return super().__iter__()
        return _Iterator(self)

    def artifact_error(self, error: tf.errors.OpError) -> ArtifactError:
        text = error.message if hasattr(error, "message") else str(error)
        if _MARK in text:
            detail = text.split(_MARK, 1)[1].split("\n")[0]
            for junk in (" [Op:IteratorGetNext]", "\n\t"):
                detail = detail.split(junk)[0]
            return ArtifactError(detail)
        where = f"{self._directory} (version {self._manifest.version})"
        damage = locate_damage(self._directory, self._manifest)
        text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text).strip()
        first = text.splitlines()[0][:1000] if text else type(error).__name__  # long enough to keep a file path
        if damage:
            return ArtifactError(f"{damage} (reading stopped with: {first})")
        return ArtifactError(f"{where}: reading the {self._manifest.format} data failed: {type(error).__name__}: {first}")


class _Iterator(iterator_ops.OwnedIterator):
    def __init__(self, dataset: LoadedDataset):
        self._loaded = dataset
        super().__init__(dataset)

    def _next_internal(self):
        try:
            return super()._next_internal()
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.UnknownError,
                tf.errors.NotFoundError, tf.errors.FailedPreconditionError, tf.errors.InternalError) as e:
            raise self._loaded.artifact_error(e) from None
