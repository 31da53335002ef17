"""`pathlist`: a list file `index.csv` naming one file per element, plus small label columns.

It holds two kinds of datasets and refuses everything else in `check()`:

- **Images**: one uint8 ``[H, W, C]`` leaf per element (C in 1, 3, 4; H and W may vary),
  alone or beside label leaves (numeric scalars, scalar strings, fixed vectors of at most
  64 numbers). Every image becomes ``images/000000042.png`` (or ``.jpg`` with
  ``image_format="jpeg"``); ``index.csv`` has a ``path`` column with that relative path
  and one column per label.
- **Paths**: one scalar string leaf holding a file path (``path_field`` names it when
  there are several string leaves), beside scalar fields. By default the strings are
  stored as given and `load` yields them unchanged: they are data, never opened, so
  no safety check applies and the artifact is not self-contained. With
  ``copy_files=True`` every file is copied to ``files/000000042<ext>``, the list holds
  those relative paths, and `load` yields *absolute* paths of the copies inside the
  artifact at the place it is loaded from (``details["paths"] == "copied"``). The
  fingerprint then covers the artifact-relative paths, which do not change when the
  artifact moves; `read_stored` yields exactly those (what `verify` should compare).

This package is the format's interface (`base.Format`); the work is kept apart by concern:
`plan` (options, and which leaf is the image or path), `csv_codec` (all CSV text, both
ways), `writer`, `reader`, and `safety` (the checks on listed paths before loading).
"""

from __future__ import annotations

from .plan import MAX_VECTOR, NAME, OPTIONS, check
from .reader import open_rows, read, read_stored
from .writer import LIST_FILE, write

VERSION = 1
RANGES = True  # `read` takes `elements=`: a slice or shard reads only its rows and files
SHUFFLES = True  # `read` takes `shuffle_seed=`: a global shuffle

__all__ = ["LIST_FILE", "MAX_VECTOR", "NAME", "OPTIONS", "RANGES", "SHUFFLES", "VERSION", "check", "open_rows", "read", "read_stored", "write"]
