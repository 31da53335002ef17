"""pathlist `write`: the image or copied files of the elements, then `index.csv` listing them beside the labels.

Writing iterates the source once. A parallel, deterministic tf.data map encodes each
image and passes on the pair (element as stored, encoded bytes); the batched stream
encoding of that pair (`columns.iter_batches`) gives, per batch, the fingerprint's input
(for JPEG the *decoded* images, i.e. what `load` returns, so `verify` holds), the label
columns and the encoded files, which Python writes and hashes from memory (one file per
element is the format; TF keeps encoding the next batches meanwhile). The list's text is
kept in memory and written once at the end, when each string column's encoding is known
(labels are small; the images are not kept).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from ...columns import COUNT, Layout, batch_size_for, iter_batches, map_plain
from ...errors import UnsupportedDatasetError
from ...progress import Progress
from ...storage.checksums import Digest, Hasher, digest_bytes
from ..base import Written
from .csv_codec import VECTOR_SEPARATOR, column_text, split_strings, string_column, to_text, write_table
from .plan import EXT, Plan, make_plan

LIST_FILE = "index.csv"
CHECKS_FILE = "image_checks.bin"  # tf.fingerprint (FarmHash64) of every image file, 8 bytes each, in element order


def write(dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter) -> Written:
    plan = make_plan(layout, options["path_field"])
    fields = [i for i in range(len(layout.leaves)) if i != plan.main]
    texts: dict[int, list] = {i: [] for i in fields}
    digests: dict[str, Digest] = {}
    main_paths: list[str] = []
    checks: list[np.ndarray] = []
    progress = Progress(f"save pathlist {directory.name}", dataset.cardinality())
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
            ext = EXT[options["image_format"]]
            names = [f"images/{start + j:09d}{ext}" for j in range(n)]
            digests.update(zip(names, _write_files(directory, names, *blobs[:2])))
            checks.append(blobs[2])
            main_paths += names
        elif options["copy_files"]:
            names = _copy_files(directory, split_strings(batch, main_col), start, layout.leaves[plan.main].path, digests)
            main_paths += names
            encoded = [s.encode() for s in names]
            batch = dict(batch)
            batch[main_col.key("values")] = np.frombuffer(b"".join(encoded), np.uint8)
            batch[main_col.key("lengths")] = np.array([len(s) for s in encoded], np.int64)
        else:
            main_paths += split_strings(batch, main_col)
        fingerprinter.update(batch)
        for i in fields:
            texts[i].append(to_text(layout.leaves[i].columns[0], batch))
        progress.update(n, sum(a.nbytes for a in batch.values()))
        start += n
    progress.done()
    columns, rows = [], []
    main_text, main_enc = string_column(main_paths) if plan.kind == "paths" and not options["copy_files"] else (main_paths, "utf-8")
    columns.append(_column_info(layout, plan, plan.main, main_enc))
    rows.append(main_text)
    for i in fields:
        text, enc = column_text(layout.leaves[i].columns[0], texts[i])
        columns.append(_column_info(layout, plan, i, enc))
        rows.append(text)
    write_table(directory / LIST_FILE, [c["name"] for c in columns], rows)
    details = {"kind": plan.kind, "list_file": LIST_FILE, "columns": columns, "vector_separator": VECTOR_SEPARATOR}
    if plan.kind == "images":
        fmt = options["image_format"]
        details.update(image_format=fmt, lossy=fmt == "jpeg", jpeg_quality=options["jpeg_quality"] if fmt == "jpeg" else None)
        # checked when each image is read, inside TF's read map (no Python per image): see reader.py
        (directory / CHECKS_FILE).write_bytes(np.concatenate(checks or [np.zeros((0, 8), np.uint8)]).tobytes())
        details.update(image_checks=CHECKS_FILE, image_check="tf.fingerprint farmhash64 of the file's bytes")
    else:
        details["paths"] = "copied" if options["copy_files"] else "as given"
    return Written(details=details, digests=digests)


def _column_info(layout: Layout, plan: Plan, i: int, encoding: str) -> dict:
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


def _image_batches(dataset, layout: Layout, plan: Plan, options: dict):
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
        return layout.pack(leaves), data, tf.reshape(tf.fingerprint(tf.reshape(data, [1])), [8])

    pair = Layout((layout.element_spec, tf.TensorSpec([], tf.string), tf.TensorSpec([8], tf.uint8)))
    bytes_col, check_col = pair.columns[-2], pair.columns[-1]
    size = min(batch_size_for(pair), 512 if layout.leaves[plan.main].columns[0].fixed else 64)
    stored = map_plain(dataset, encode)
    for batch in iter_batches(stored, pair, size):
        out = {COUNT: batch[COUNT]}
        for col, pcol in zip(layout.columns, pair.columns):
            for s in col.streams:
                out[col.key(s)] = batch[pcol.key(s)]
        yield out, (batch[bytes_col.key("values")], batch[bytes_col.key("lengths")], batch[check_col.key("values")])


def _write_files(directory: Path, names: list[str], values: np.ndarray, lengths: np.ndarray) -> list[Digest]:
    """Write each element's bytes to its file and return their digests (so nothing is read back to hash it).

    Plain Python writes: tf.io.write_file costs ~10x more CPU per small file (it creates the
    parent directories every time), and the bytes are already here for hashing.
    """
    view = memoryview(values)
    ends = np.cumsum(lengths).tolist()
    digests = []
    for name, a, b in zip(names, [0] + ends[:-1], ends):
        data = view[a:b].tobytes()
        with open(directory / name, "wb") as f:
            f.write(data)
        digests.append(digest_bytes(data))
    return digests


def _copy_files(directory: Path, sources: list[bytes], start: int, feature: str, digests: dict) -> list[str]:
    (directory / "files").mkdir(exist_ok=True)
    names = []
    for j, src in enumerate(sources):
        ext = os.path.splitext(os.path.basename(src))[1].decode("ascii", "replace")
        ext = ext if len(ext) <= 16 and ext[1:].replace("_", "").replace("-", "").isalnum() and ext.isascii() else ""
        name = f"files/{start + j:09d}{ext}"
        h = Hasher()
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
        digests[name] = h.digest()
        names.append(name)
    return names
