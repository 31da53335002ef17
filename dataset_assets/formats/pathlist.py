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

The CSV is lossless: integers in decimal, floats as the shortest repr of their float64
value (float16/32/bfloat16 widen exactly), booleans as 0/1, vectors space separated, and
each string column either UTF-8 (when every value is valid UTF-8 without NUL) or
URL-safe base64; the column -> feature mapping, dtypes and encodings are in
``manifest.details["columns"]``. The list's text is kept in memory and written once at
the end, when each string column's encoding is known (labels are small; the images are not
kept).

Writing iterates the source once. A parallel, deterministic tf.data map encodes each
image and passes on the pair (element as stored, encoded bytes); the batched stream
encoding of that pair (`columns.iter_batches`) gives, per batch, the fingerprint's input
(for JPEG the *decoded* images, i.e. what `load` returns, so `verify` holds), the label
columns and the encoded files, which Python writes and hashes from memory (one file per
element is the format; TF keeps encoding the next batches meanwhile). Loading reads the
CSV once, checks that every listed path stays inside the artifact (no absolute paths, no
"..", no symlink out, listed in the manifest), and decodes the images in a parallel,
deterministic map. A damaged image header fails with the file's name; other damage
inside a file is found by `verify` (checksums), naming the file.

``png_compression`` (zlib level, default -1 = zlib's default): 0 stores the pixels
uncompressed, which encodes and decodes about twice as fast for larger files.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from ..columns import COUNT, Layout, batch_size_for, iter_batches, map_plain
from ..errors import ArtifactError, UnsupportedDatasetError
from ..manifest import Manifest, safe_member
from ..progress import Progress
from .base import Written, unknown_options

NAME = "pathlist"
VERSION = 1
OPTIONS: dict = {"image_format": "png", "jpeg_quality": 95, "png_compression": -1, "copy_files": False, "path_field": None}
_IMAGE_OPTIONS = ("image_format", "jpeg_quality", "png_compression")
LIST_FILE = "index.csv"
MAX_VECTOR = 64
_ELSEWHERE = "use format='tfrecord' or 'npy', which hold any tensor"
_EXT = {"png": ".png", "jpeg": ".jpg"}


@dataclass(frozen=True)
class _Plan:
    kind: str  # "images" | "paths"
    main: int  # leaf index of the image / path leaf
    names: tuple  # CSV column name per leaf, the main leaf's is "path"


def _refuse(path: str, what: str) -> UnsupportedDatasetError:
    return UnsupportedDatasetError(
        f"pathlist cannot hold feature {path!r}: {what}. pathlist stores one image (uint8 [H, W, C], C in 1, 3, 4) "
        f"or one file path (scalar string) per element, beside scalar labels; {_ELSEWHERE}"
    )


def _describe(spec) -> str:
    return f"a {spec.dtype.name} tensor of shape {spec.shape.as_list()}"


def _plan(layout: Layout, path_field: str | None) -> _Plan:
    images, strings, vectors = [], [], []
    for i, leaf in enumerate(layout.leaves):
        spec, shape = leaf.spec, leaf.spec.shape
        if isinstance(spec, tf.RaggedTensorSpec):
            raise _refuse(leaf.path, f"it is a ragged tensor ({spec.dtype.name}, shape {shape.as_list()})")
        if spec.dtype == tf.uint8 and shape.rank == 3:
            if shape[2] not in (1, 3, 4):
                raise _refuse(leaf.path, f"it is {_describe(spec)}, and an image needs 1, 3 or 4 channels in its last axis")
            images.append(i)
        elif spec.dtype == tf.string:
            if shape.rank != 0:
                raise _refuse(leaf.path, f"it is {_describe(spec)}; only scalar strings fit in a list column")
            strings.append(i)
        elif not (spec.dtype.is_integer or spec.dtype.is_floating or spec.dtype.is_bool) or spec.dtype.is_complex:
            raise _refuse(leaf.path, f"it is {_describe(spec)}, which has no exact text form")
        elif not shape.is_fully_defined() or shape.rank > 1 or shape.num_elements() > MAX_VECTOR:
            hint = " (a grayscale image needs a channel axis: tf.expand_dims(x, -1))" if spec.dtype == tf.uint8 and shape.rank == 2 else ""
            raise _refuse(leaf.path, f"it is {_describe(spec)}; a label must be a scalar or a fixed vector of at most {MAX_VECTOR} numbers{hint}")
        elif shape.rank == 1:
            vectors.append(i)
    paths = [leaf.path for leaf in layout.leaves]
    if len(images) > 1:
        raise _refuse(paths[images[1]], f"features {', '.join(repr(paths[i]) for i in images)} are all images and pathlist holds one per element")
    if images:
        if path_field is not None:
            raise UnsupportedDatasetError(
                f"path_field={path_field!r} applies to lists of file paths; this dataset holds images ({paths[images[0]]!r})"
            )
        main, kind = images[0], "images"
    else:
        if not strings:
            raise _refuse(paths[0], f"it is {_describe(layout.leaves[0].spec)} and the dataset has neither an image nor a path (a scalar string)")
        if vectors:
            raise _refuse(paths[vectors[0]], f"it is {_describe(layout.leaves[vectors[0]].spec)}; beside file paths only scalar fields fit")
        if path_field is not None:
            if path_field not in [paths[i] for i in strings]:
                choices = [paths[i] for i in strings]
                raise UnsupportedDatasetError(f"path_field={path_field!r} is not a scalar string feature; choose one of {choices}")
            main = paths.index(path_field)
        elif len(strings) > 1:
            raise UnsupportedDatasetError(
                f"several string features {[paths[i] for i in strings]}: pass path_field=<one of them> to say which holds the file paths"
            )
        else:
            main = strings[0]
        kind = "paths"
    names, taken = [], {"path"}
    for i, p in enumerate(paths):
        if i == main:
            names.append("path")
            continue
        name = p
        while name in taken:
            name += "#field"
        taken.add(name)
        names.append(name)
    return _Plan(kind, main, tuple(names))


def check(layout: Layout, options: dict) -> dict:
    opts = unknown_options(NAME, options, OPTIONS)
    plan = _plan(layout, opts["path_field"])
    if plan.kind == "paths" and any(k in options for k in _IMAGE_OPTIONS):
        raise UnsupportedDatasetError(f"{', '.join(k for k in _IMAGE_OPTIONS if k in options)} apply to images; this dataset is a list of file paths")
    if plan.kind == "images" and "copy_files" in options:
        raise UnsupportedDatasetError("copy_files applies to lists of file paths; images are always written into the artifact")
    if opts["image_format"] not in _EXT:
        raise UnsupportedDatasetError(f"image_format={opts['image_format']!r}: choose 'png' (lossless) or 'jpeg' (lossy)")
    q, level = opts["jpeg_quality"], opts["png_compression"]
    if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100:
        raise UnsupportedDatasetError(f"jpeg_quality={q!r}: give an integer from 1 to 100")
    if isinstance(level, bool) or not isinstance(level, int) or not -1 <= level <= 9:
        raise UnsupportedDatasetError(f"png_compression={level!r}: give an integer from 0 (fast) to 9 (small), or -1 for zlib's default")
    if not isinstance(opts["copy_files"], bool):
        raise UnsupportedDatasetError(f"copy_files={opts['copy_files']!r}: give True or False")
    if plan.kind == "images" and opts["image_format"] == "jpeg":
        image = layout.leaves[plan.main]
        if image.spec.shape[2] == 4:
            raise _refuse(image.path, "it has 4 channels (RGBA) and JPEG holds 1 or 3; use image_format='png'")
    return opts


# --- writing ---------------------------------------------------------------------------------


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    plan = _plan(layout, options["path_field"])
    fields = [i for i in range(len(layout.leaves)) if i != plan.main]
    texts: dict[int, list] = {i: [] for i in fields}
    digests: dict[str, str] = {}
    main_paths: list[str] = []
    progress = Progress(f"save pathlist {directory.name}")
    if plan.kind == "images":
        (directory / "images").mkdir()
        batches = _image_batches(dataset, layout, plan, options)
    else:
        batches = ((b, None) for b in iter_batches(dataset, layout))
    main_col = layout.leaves[plan.main].columns[0]
    start = 0
    for batch, blobs in batches:
        n = int(batch[COUNT])
        if plan.kind == "images":
            ext = _EXT[options["image_format"]]
            names = [f"images/{start + j:09d}{ext}" for j in range(n)]
            digests.update(zip(names, _write_files(directory, names, *blobs)))
            main_paths += names
        elif options["copy_files"]:
            names = _copy_files(directory, _split(batch, main_col), start, layout.leaves[plan.main].path, digests)
            main_paths += names
            encoded = [s.encode() for s in names]
            batch = dict(batch)
            batch[main_col.key("values")] = np.frombuffer(b"".join(encoded), np.uint8)
            batch[main_col.key("lengths")] = np.array([len(s) for s in encoded], np.int64)
        else:
            main_paths += _split(batch, main_col)
        fingerprinter.update(batch)
        for i in fields:
            texts[i].append(_to_text(layout.leaves[i].columns[0], batch))
        progress.update(n, sum(a.nbytes for a in batch.values()))
        start += n
    progress.done()
    columns, rows = [], []
    main_text, main_enc = _string_column(main_paths) if plan.kind == "paths" and not options["copy_files"] else (main_paths, "utf-8")
    columns.append(_column_info(layout, plan, plan.main, main_enc))
    rows.append(main_text)
    for i in fields:
        col = layout.leaves[i].columns[0]
        if col.is_string:
            text, enc = _string_column([b for chunk in texts[i] for b in chunk])
        else:
            text, enc = [s for chunk in texts[i] for s in chunk], "decimal"
        columns.append(_column_info(layout, plan, i, enc))
        rows.append(text)
    with open(directory / LIST_FILE, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)  # excel dialect: \r\n rows, so any \r or \n inside a value gets quoted
        writer.writerow([c["name"] for c in columns])
        writer.writerows(zip(*rows))
    details = {"kind": plan.kind, "list_file": LIST_FILE, "columns": columns, "vector_separator": " "}
    if plan.kind == "images":
        fmt = options["image_format"]
        details.update(image_format=fmt, lossy=fmt == "jpeg", jpeg_quality=options["jpeg_quality"] if fmt == "jpeg" else None)
    else:
        details["paths"] = "copied" if options["copy_files"] else "as given"
    return Written(details=details, digests=digests)


def _column_info(layout: Layout, plan: _Plan, i: int, encoding: str) -> dict:
    spec = layout.leaves[i].spec
    role = "field" if i != plan.main else ("image" if plan.kind == "images" else "path")
    return {
        "name": plan.names[i],
        "feature": layout.leaves[i].path,
        "role": role,
        "dtype": spec.dtype.name,
        "shape": spec.shape.as_list(),
        "encoding": encoding,
    }


def _image_batches(dataset, layout: Layout, plan: _Plan, options: dict):
    """(stream batch of the elements as stored, (encoded bytes, their lengths)) per batch, encoded in parallel in TF."""
    spec = layout.leaves[plan.main].spec
    channels, fmt = int(spec.shape[2]), options["image_format"]

    def encode(*element):  # map unpacks tuple elements; flattening the arguments gives the same leaves
        leaves = tf.nest.flatten(element, expand_composites=False)
        image = leaves[plan.main]
        if fmt == "png":
            data = tf.io.encode_png(image, compression=options["png_compression"])
        else:
            data = tf.io.encode_jpeg(image, quality=options["jpeg_quality"])
            # JPEG is lossy: fingerprint what load() will decode, not the source pixels
            leaves[plan.main] = tf.ensure_shape(tf.io.decode_jpeg(data, channels=channels), spec.shape)
        return layout.pack(leaves), data

    pair = Layout((layout.element_spec, tf.TensorSpec([], tf.string)))
    bytes_col = pair.columns[-1]
    size = min(batch_size_for(pair), 512 if layout.leaves[plan.main].columns[0].fixed else 64)
    stored = map_plain(dataset, encode)
    for batch in iter_batches(stored, pair, size):
        out = {COUNT: batch[COUNT]}
        for col, pcol in zip(layout.columns, pair.columns):
            for s in col.streams:
                out[col.key(s)] = batch[pcol.key(s)]
        yield out, (batch[bytes_col.key("values")], batch[bytes_col.key("lengths")])


def _split(batch: dict, col) -> list[bytes]:
    data = batch[col.key("values")].tobytes()
    ends = np.cumsum(batch[col.key("lengths")]).tolist()
    return [data[a:b] for a, b in zip([0] + ends[:-1], ends)]


def _write_files(directory: Path, names: list[str], values: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Write each element's bytes to its file and return their sha256 (so nothing is read back to hash it).

    Plain Python writes: tf.io.write_file costs ~10x more CPU per small file (it creates the
    parent directories every time), and the bytes are already here for hashing.
    """
    view = memoryview(values)
    ends = np.cumsum(lengths).tolist()
    digests = []
    for name, a, b in zip(names, [0] + ends[:-1], ends):
        with open(directory / name, "wb") as f:
            f.write(view[a:b])
        digests.append(hashlib.sha256(view[a:b]).hexdigest())
    return digests


def _copy_files(directory: Path, sources: list[bytes], start: int, feature: str, digests: dict) -> list[str]:
    (directory / "files").mkdir(exist_ok=True)
    names = []
    for j, src in enumerate(sources):
        ext = os.path.splitext(os.path.basename(src))[1].decode("ascii", "replace")
        ext = ext if len(ext) <= 16 and ext[1:].replace("_", "").replace("-", "").isalnum() and ext.isascii() else ""
        name = f"files/{start + j:09d}{ext}"
        h = hashlib.sha256()
        try:
            with open(src, "rb") as fin, open(directory / name, "wb") as fout:
                while block := fin.read(8 << 20):
                    h.update(block)
                    fout.write(block)
        except OSError as e:
            raise UnsupportedDatasetError(
                f"element {start + j}, feature {feature!r}: cannot copy {os.fsdecode(src)!r} ({e.strerror or e}); "
                "copy_files=True needs every path to name a readable file (or save with copy_files=False)"
            ) from e
        digests[name] = h.hexdigest()
        names.append(name)
    return names


def _to_text(col, batch: dict):
    """One CSV chunk for a label column: bytes per element for strings, exact decimal text otherwise."""
    if col.is_string:
        return _split(batch, col)
    v = batch[col.key("values")]
    if col.dtype == tf.bfloat16:
        v = (v.astype(np.uint32) << 16).view(np.float32)
    if v.dtype.kind == "f":
        v = v.astype(np.float64)  # exact widening; float64's shortest repr round-trips
    elif v.dtype.kind == "b":
        v = v.astype(np.uint8)
    text = v.astype(str)
    if text.ndim == 1:
        return text.tolist()
    return [" ".join(row) for row in text.tolist()]


def _string_column(values: list[bytes]) -> tuple[list[str], str]:
    try:
        text = [b.decode("utf-8") for b in values]
        if not any("\x00" in s for s in text):
            return text, "utf-8"
    except UnicodeDecodeError:
        pass
    return [base64.urlsafe_b64encode(b).decode("ascii") for b in values], "base64"


# --- reading ---------------------------------------------------------------------------------


def read(directory: Path, manifest: Manifest, layout: Layout) -> tf.data.Dataset:
    """The saved dataset; with copy_files=True its paths are absolute paths of the copies in `directory`."""
    return _read(directory, manifest, layout, absolute=True)


def read_stored(directory: Path, manifest: Manifest, layout: Layout) -> tf.data.Dataset:
    """The dataset exactly as fingerprinted: copied files as artifact-relative paths (same as `read` otherwise)."""
    return _read(directory, manifest, layout, absolute=False)


def _read(directory: Path, manifest: Manifest, layout: Layout, absolute: bool) -> tf.data.Dataset:
    details, n = manifest.details, manifest.num_elements
    plan = _plan(layout, manifest.options.get("path_field"))
    list_path = safe_member(directory, details["list_file"])
    columns = details["columns"]
    try:
        table = pd.read_csv(list_path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ArtifactError(f"{list_path} is not a readable list ({e}); re-create the artifact with save()") from e
    names = [c["name"] for c in columns]
    if list(table.columns) != names or names != [plan.names[i] for i in _column_order(plan, layout)] or len(table) != n:
        raise ArtifactError(
            f"{list_path} has columns {list(table.columns)} and {len(table)} rows; the manifest expects {names} and {n} rows"
        )
    tensors = {}
    for info, i in zip(columns, _column_order(plan, layout)):
        text = table[info["name"]]
        if i == plan.main and (plan.kind == "images" or details.get("paths") == "copied"):
            _check_members(directory, list_path, text, manifest)
            full = str(directory) + "/" + text if (absolute or plan.kind == "images") else text
            tensors[i] = tf.constant(full.to_numpy(dtype=object), tf.string)
        else:
            tensors[i] = _parse(text, info, layout.leaves[i].spec, list_path)
    flat = tuple(tensors[i] for i in range(len(layout.leaves)))
    if plan.kind == "paths":
        ds = tf.data.Dataset.from_tensor_slices(layout.pack(flat))
    else:
        ds = map_plain(tf.data.Dataset.from_tensor_slices(flat), _decoder(layout, plan, details["image_format"]))
    return ds.apply(tf.data.experimental.assert_cardinality(n)).prefetch(tf.data.AUTOTUNE)


def _column_order(plan: _Plan, layout: Layout) -> list[int]:
    return [plan.main] + [i for i in range(len(layout.leaves)) if i != plan.main]


def _decoder(layout: Layout, plan: _Plan, fmt: str):
    spec = layout.leaves[plan.main].spec
    channels = int(spec.shape[2])
    magic = b"\x89PNG\r\n\x1a\n" if fmt == "png" else b"\xff\xd8"

    def decode(*leaves):
        leaves = list(leaves)
        path = leaves[plan.main]
        data = tf.io.read_file(path)
        # decoders report damage without the file name; this names it for the common case
        ok = tf.equal(tf.strings.substr(data, 0, len(magic)), magic)
        with tf.control_dependencies([tf.debugging.Assert(ok, ["pathlist: image file is damaged (bad header):", path])]):
            data = tf.identity(data)
        image = tf.io.decode_png(data, channels=channels) if fmt == "png" else tf.io.decode_jpeg(data, channels=channels)
        leaves[plan.main] = tf.ensure_shape(image, spec.shape)
        return layout.pack(leaves)

    return decode


def _check_members(directory: Path, list_path: Path, rel: pd.Series, manifest: Manifest) -> None:
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


def _parse(text: pd.Series, info: dict, spec, list_path: Path) -> tf.Tensor:
    where = f"{list_path}, column {info['name']!r}"
    try:
        if spec.dtype == tf.string:
            values = tf.constant(text.to_numpy(dtype=object), tf.string)
            return tf.io.decode_base64(values) if info["encoding"] == "base64" else values
        shape = spec.shape.as_list()
        raw = text.to_numpy(dtype=str)
        if shape:
            k = shape[0]
            parts = np.array([s.split(" ") if k else [] for s in raw.tolist()], dtype=str).reshape(len(raw), k)
            raw = parts
        if spec.dtype.is_bool:
            return tf.constant(raw.astype(np.uint8) != 0)
        target = spec.dtype.as_numpy_dtype
        if spec.dtype.is_floating:  # cast in numpy: TF's casts flush subnormals to zero
            wide = raw.astype(np.float64)
            return tf.constant((wide.astype(np.float32) if spec.dtype == tf.bfloat16 else wide).astype(target))
        return tf.constant(raw.astype(target))
    except (ValueError, OverflowError, tf.errors.InvalidArgumentError) as e:
        reason = str(e).splitlines()[0][:200]
        raise ArtifactError(f"{where} holds a value that is not a {spec.dtype.name} ({reason}); re-create the artifact with save()") from e
