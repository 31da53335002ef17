"""The format registry: every format by name, each offering the same small interface (`base.Format`).

A format is a module or package whose top level has NAME, VERSION, check, write, read (and
optionally read_stored); see `base.py` for what each does. To add one, import it here and add
it to `_REGISTRY`; `FORMATS` lists the names in the order they are offered.
"""

from __future__ import annotations

from ..errors import UnsupportedDatasetError
from . import hdf5, npy, pathlist, tfdata, tfrecord
from .base import Format

_REGISTRY: dict[str, Format] = {"npy": npy, "hdf5": hdf5, "pathlist": pathlist, "tfrecord": tfrecord, "tfdata": tfdata}
FORMATS = tuple(_REGISTRY)  # ("npy", "hdf5", "pathlist", "tfrecord", "tfdata")


def get(name: str) -> Format:
    if name not in FORMATS:  # a tuple test, so an unhashable name is refused like any other
        raise UnsupportedDatasetError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
    return _REGISTRY[name]
