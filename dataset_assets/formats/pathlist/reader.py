"""pathlist `read` and `read_stored`: `index.csv` back to the elements, decoding the images on the way.

Loading reads the CSV once, checks that every listed path stays inside the artifact
(`safety.check_members`), and decodes the images in a parallel, deterministic map. A damaged
image header fails with the file's name; other damage inside a file is found by `verify`
(checksums), naming the file. With ``copy_files=True`` `read` yields absolute paths of the
copies inside the artifact where it is loaded from, `read_stored` the artifact-relative
paths that were fingerprinted.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Callable

import numpy as np

import tensorflow as tf

from ...columns import Layout, map_plain
from ...errors import ArtifactError
from ...manifest import Manifest, open_member, safe_member
from ...selection import shuffled_indices
from .csv_codec import parse, read_table
from .plan import Plan, column_order, make_plan
from .safety import check_members


def read(
    directory: Path, manifest: Manifest, layout: Layout, checked: bool = True, elements: range | None = None, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """The saved dataset; with copy_files=True its paths are absolute paths of the copies in `directory`.

    `elements`: only those rows of the list (and their files) are read; `shuffle_seed`: in a global
    random order (`selection.shuffled_indices`), gathered from the list, then the files decoded.
    """
    table = _Table(directory, manifest, layout, absolute=True, checked=checked)
    elements = range(manifest.num_elements) if elements is None else elements
    if shuffle_seed is None:
        rows = tf.data.Dataset.from_tensor_slices(tuple(t[elements.start : elements.stop] for t in table.slices))
    else:
        gather = lambda i: tuple(tf.gather(t, i) for t in table.slices)  # noqa: E731
        rows = shuffled_indices(elements, shuffle_seed, 1024).map(tf.autograph.experimental.do_not_convert(gather)).unbatch()
    ds = map_plain(rows, table.element)
    return ds.apply(tf.data.experimental.assert_cardinality(len(elements))).prefetch(tf.data.AUTOTUNE)


def read_stored(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> tf.data.Dataset:
    """The dataset exactly as fingerprinted: copied files as artifact-relative paths (same as `read` otherwise)."""
    table = _Table(directory, manifest, layout, absolute=False, checked=checked)
    ds = map_plain(tf.data.Dataset.from_tensor_slices(table.slices), table.element)
    return ds.apply(tf.data.experimental.assert_cardinality(manifest.num_elements)).prefetch(tf.data.AUTOTUNE)


def open_rows(directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> "_Rows":
    """Random access (`dataset_assets.open`): rows of the list, their image files read and decoded one by one."""
    return _Rows(_Table(directory, manifest, layout, absolute=True, checked=checked))


class _Table:
    """The list read once and checked: a tensor per leaf (and the image checksums), and the map from a row to its element."""

    def __init__(self, directory: Path, manifest: Manifest, layout: Layout, absolute: bool, checked: bool):
        details, n = manifest.details, manifest.num_elements
        plan = make_plan(layout, manifest.options.get("path_field"))
        list_path = safe_member(directory, details["list_file"])
        columns = details["columns"]
        table = read_table(io.BytesIO(open_member(directory, manifest, details["list_file"], checked).read_all()), list_path)
        names = [c["name"] for c in columns]
        if list(table.columns) != names or names != [plan.names[i] for i in column_order(plan, layout)] or len(table) != n:
            raise ArtifactError(
                f"{list_path} has columns {list(table.columns)} and {len(table)} rows; the manifest expects {names} and {n} rows"
            )
        tensors = {}
        for info, i in zip(columns, column_order(plan, layout)):
            text = table[info["name"]]
            if i == plan.main and (plan.kind == "images" or details.get("paths") == "copied"):
                check_members(directory, list_path, text, manifest)
                full = str(directory) + "/" + text if (absolute or plan.kind == "images") else text
                tensors[i] = tf.constant(full.to_numpy(dtype=object), tf.string)
            else:
                tensors[i] = parse(text, info, layout.leaves[i].spec, list_path)
        self.slices = tuple(tensors[i] for i in range(len(layout.leaves)))
        self.layout = layout
        checks = _image_checks(directory, manifest, n) if checked and plan.kind != "paths" else None
        self.slices += () if checks is None else (checks,)
        # what `element` depends on, and nothing else: artifacts alike share one traced decoder (`_Rows`)
        self.kind = (json.dumps(manifest.element_spec, sort_keys=True), plan.kind, plan.main, details.get("image_format"), checks is not None)
        if plan.kind == "paths":
            self.element = lambda *leaves: layout.pack(leaves)
        else:
            self.element = _decoder(layout, plan, details["image_format"], checks is not None)


class _Rows:
    """`open_rows`: each element's row gathered from the list, its image decoded by the same (traced) function `read` maps."""

    def __init__(self, table: _Table):
        self.table = table
        self.decode = _traced(table)

    def elements(self, indices: np.ndarray) -> list:
        rows = [tf.gather(t, indices) for t in self.table.slices]
        out = []
        for j in range(len(indices)):  # one file per element: reading and decoding it is the cost, not this loop
            element = self.decode(*(r[j] for r in rows))
            out.append(tf.nest.map_structure(lambda t: t.numpy(), element))
        return out


_TRACED: dict[tuple, Callable] = {}  # `_Table.kind` -> its element function, traced: the 64 kinds used last
_TRACED_KINDS = 64


def _traced(table: _Table) -> Callable:
    """The table's element function as a `tf.function`, one per kind of artifact.

    A new `tf.function` for each `open` was traced anew each time, and TensorFlow warned of
    "excessive retracing" from the sixth `open` on in one process.
    """
    traced = _TRACED.pop(table.kind, None) or tf.function(table.element, autograph=False)
    _TRACED[table.kind] = traced  # the most recent last
    while len(_TRACED) > _TRACED_KINDS:
        _TRACED.pop(next(iter(_TRACED)), None)
    return traced


def _image_checks(directory: Path, manifest: Manifest, n: int) -> tf.Tensor | None:
    """The FarmHash64 of every image file recorded at write time ([n, 8] uint8), or None for artifacts without them."""
    name = manifest.details.get("image_checks")
    if name is None:
        return None
    raw = open_member(directory, manifest, name).read_all()
    if len(raw) != 8 * n:
        raise ArtifactError(f"{directory / name}: holds {len(raw)} bytes, 8 per image are {8 * n}; re-create the artifact with save()")
    return tf.constant(np.frombuffer(raw, np.uint8).reshape(n, 8))


def _decoder(layout: Layout, plan: Plan, fmt: str, checked: bool):
    spec = layout.leaves[plan.main].spec
    channels = int(spec.shape[2])
    magic = b"\x89PNG\r\n\x1a\n" if fmt == "png" else b"\xff\xd8"

    def decode(*leaves):
        leaves = list(leaves)
        path = leaves[plan.main]
        data = tf.io.read_file(path)
        if checked:  # every byte of the file, against the fingerprint taken when it was written
            expected = leaves.pop()
            same = tf.reduce_all(tf.equal(tf.reshape(tf.fingerprint(tf.reshape(data, [1])), [8]), expected))
            with tf.control_dependencies([tf.debugging.Assert(same, ["pathlist: image file does not match its checksum:", path])]):
                data = tf.identity(data)
        # decoders report damage without the file name; this names it for the common case
        ok = tf.equal(tf.strings.substr(data, 0, len(magic)), magic)
        with tf.control_dependencies([tf.debugging.Assert(ok, ["pathlist: image file is damaged (bad header):", path])]):
            data = tf.identity(data)
        image = tf.io.decode_png(data, channels=channels) if fmt == "png" else tf.io.decode_jpeg(data, channels=channels)
        leaves[plan.main] = tf.ensure_shape(image, spec.shape)
        return layout.pack(leaves)

    return decode
