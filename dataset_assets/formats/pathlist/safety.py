"""pathlist load safety: every path `index.csv` lists must name a plain file inside the artifact.

Before a listed file is opened, `check_members` refuses (naming the list and the first bad
data row) absolute paths, drive letters, backslashes, NUL, "..", names the manifest does
not list, and directories or symbolic links that lead outside the artifact. Paths stored
"as given" are data, never opened, and are not checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ArtifactError
from ...manifest import Manifest


def check_members(directory: Path, list_path: Path, rel: pd.Series, manifest: Manifest) -> None:
    """Every listed file must be a plain member of the artifact that the manifest lists."""
    if rel.empty:
        return
    outside = (
        rel.eq("")
        | rel.str.startswith("/")
        | rel.str.contains("\\", regex=False)
        | rel.str.contains("\x00", regex=False)
        | rel.str.match(r"[A-Za-z]:")
        | rel.str.contains(r"(?:^|/)\.\.(?:/|$)", regex=True)
    )
    _refuse_rows(list_path, rel, outside, "a file outside the artifact")
    _refuse_rows(list_path, rel, ~rel.isin([f.path for f in manifest.files]), "a file the manifest does not list")
    root = os.path.realpath(directory)
    escaping = set()
    for parent in rel.str.rpartition("/")[0].unique():
        real = os.path.realpath(os.path.join(root, parent))
        if os.path.commonpath([root, real]) != root:
            escaping.add(parent)
            continue
        if not os.path.isdir(real):
            continue  # its files are missing: check_files reports them by name
        with os.scandir(real) as entries:
            for entry in entries:
                if entry.is_symlink() and os.path.commonpath([root, os.path.realpath(entry.path)]) != root:
                    escaping.add(f"{parent}/{entry.name}" if parent else entry.name)
    if escaping:
        hit = rel.isin(escaping) | rel.str.rpartition("/")[0].isin(escaping)
        _refuse_rows(list_path, rel, hit, "a symbolic link that leads outside the artifact")


def _refuse_rows(list_path: Path, rel: pd.Series, bad: pd.Series, why: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ArtifactError(
            f"{list_path}, data row {row + 1}: {rel.iloc[row]!r} names {why}; refusing to read it "
            f"({int(bad.sum())} such row(s)). The list was edited or the artifact is unsafe: re-create it with save()"
        )
