"""pathlist options and the plan of a dataset: which leaf is the image or path, which are label columns.

`make_plan` sorts the leaves of an element_spec into one main leaf (an image or a file path)
and scalar or small-vector label fields, and names their CSV columns; anything else is
refused, with a message that says what pathlist holds and what to use instead. `check`
validates the options against the plan. ``png_compression`` (zlib level, default -1 =
zlib's default): 0 stores the pixels uncompressed, which encodes and decodes about twice
as fast for larger files.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from ...columns import Layout
from ...errors import UnsupportedDatasetError
from ..base import unknown_options

NAME = "pathlist"
OPTIONS: dict = {"image_format": "png", "jpeg_quality": 95, "png_compression": -1, "copy_files": False, "path_field": None}
_IMAGE_OPTIONS = ("image_format", "jpeg_quality", "png_compression")
MAX_VECTOR = 64
_ELSEWHERE = "use format='tfrecord' or 'npy', which hold any tensor"
EXT = {"png": ".png", "jpeg": ".jpg"}


@dataclass(frozen=True)
class Plan:
    kind: str  # "images" | "paths"
    main: int  # leaf index of the image / path leaf
    names: tuple  # CSV column name per leaf, the main leaf's is "path"


def refuse(path: str, what: str) -> UnsupportedDatasetError:
    return UnsupportedDatasetError(
        f"pathlist cannot hold feature {path!r}: {what}. pathlist stores one image (uint8 [H, W, C], C in 1, 3, 4) "
        f"or one file path (scalar string) per element, beside scalar labels; {_ELSEWHERE}"
    )


def _describe(spec) -> str:
    return f"a {spec.dtype.name} tensor of shape {spec.shape.as_list()}"


def make_plan(layout: Layout, path_field: str | None) -> Plan:
    images, strings, vectors = [], [], []
    for i, leaf in enumerate(layout.leaves):
        spec, shape = leaf.spec, leaf.spec.shape
        if isinstance(spec, tf.RaggedTensorSpec):
            raise refuse(leaf.path, f"it is a ragged tensor ({spec.dtype.name}, shape {shape.as_list()})")
        if spec.dtype == tf.uint8 and shape.rank == 3:
            if shape[2] not in (1, 3, 4):
                raise refuse(leaf.path, f"it is {_describe(spec)}, and an image needs 1, 3 or 4 channels in its last axis")
            images.append(i)
        elif spec.dtype == tf.string:
            if shape.rank != 0:
                raise refuse(leaf.path, f"it is {_describe(spec)}; only scalar strings fit in a list column")
            strings.append(i)
        elif not (spec.dtype.is_integer or spec.dtype.is_floating or spec.dtype.is_bool) or spec.dtype.is_complex:
            raise refuse(leaf.path, f"it is {_describe(spec)}, which has no exact text form")
        elif not shape.is_fully_defined() or shape.rank > 1 or shape.num_elements() > MAX_VECTOR:
            hint = " (a grayscale image needs a channel axis: tf.expand_dims(x, -1))" if spec.dtype == tf.uint8 and shape.rank == 2 else ""
            raise refuse(leaf.path, f"it is {_describe(spec)}; a label must be a scalar or a fixed vector of at most {MAX_VECTOR} numbers{hint}")
        elif shape.rank == 1:
            vectors.append(i)
    paths = [leaf.path for leaf in layout.leaves]
    if len(images) > 1:
        raise refuse(paths[images[1]], f"features {', '.join(repr(paths[i]) for i in images)} are all images and pathlist holds one per element")
    if images:
        if path_field is not None:
            raise UnsupportedDatasetError(
                f"path_field={path_field!r} applies to lists of file paths; this dataset holds images ({paths[images[0]]!r})"
            )
        main, kind = images[0], "images"
    else:
        if not strings:
            raise refuse(paths[0], f"it is {_describe(layout.leaves[0].spec)} and the dataset has neither an image nor a path (a scalar string)")
        if vectors:
            raise refuse(paths[vectors[0]], f"it is {_describe(layout.leaves[vectors[0]].spec)}; beside file paths only scalar fields fit")
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
    return Plan(kind, main, tuple(names))


def column_order(plan: Plan, layout: Layout) -> list[int]:
    """The leaf of each CSV column, left to right: the main leaf first, then the fields."""
    return [plan.main] + [i for i in range(len(layout.leaves)) if i != plan.main]


def check(layout: Layout, options: dict) -> dict:
    opts = unknown_options(NAME, options, OPTIONS)
    plan = make_plan(layout, opts["path_field"])
    if plan.kind == "paths" and any(k in options for k in _IMAGE_OPTIONS):
        raise UnsupportedDatasetError(f"{', '.join(k for k in _IMAGE_OPTIONS if k in options)} apply to images; this dataset is a list of file paths")
    if plan.kind == "images" and "copy_files" in options:
        raise UnsupportedDatasetError("copy_files applies to lists of file paths; images are always written into the artifact")
    if opts["image_format"] not in EXT:
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
            raise refuse(image.path, "it has 4 channels (RGBA) and JPEG holds 1 or 3; use image_format='png'")
    return opts
