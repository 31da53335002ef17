"""`dataset_assets.load`: the format library's `load`, with a recipe applied on top when one is given."""

from __future__ import annotations

import json

import tensorflow as tf

from .. import api
from .recipe import Recipe


def load(
    path,
    recipe=None,
    *,
    version: str | None = None,
    checked: bool = True,
    split: str | None = None,
    shard: tuple[int, int] | None = None,
    shuffle_seed: int | None = None,
    storage_options: dict | None = None,
) -> tf.data.Dataset:
    """The dataset saved at `path`, same element_spec and elements; with `recipe`, its pipeline on top.

    `version`: a retained version id (default: the current one, resolved once). `checked`: every
    byte read is checked against the checksums recorded at write time. `split` (TFDS slicing, such
    as "[:10%]") and `shard` (`(num_shards, index)`) select elements, in order; `shuffle_seed`
    shuffles them anew on each iteration (docs/reading.md).
    `storage_options`: for fsspec URLs. `recipe` (a `Recipe`, a dict, or the path of a recipe
    YAML/JSON file): read and checked before the artifact is opened, then applied to what is read.
    """
    recipe = None if recipe is None else Recipe.coerce(recipe)
    dataset = api.load(path, version=version, checked=checked, split=split, shard=shard, shuffle_seed=shuffle_seed, storage_options=storage_options)
    if recipe is None:
        return dataset
    return recipe.apply(dataset, source_id=source_id(dataset.manifest.fingerprint, split=split, shard=shard, shuffle_seed=shuffle_seed))


def source_id(fingerprint: str, **selection) -> str:
    """What a recipe's file caches are keyed on: the artifact's content, and which of its elements were read in which order.

    Without the selection, `load(path, recipe, split="[5:]")` read back the cache that
    `split="[:3]"` had written. Nothing selected: the fingerprint alone, as before.
    """
    chosen = {k: list(v) if isinstance(v, tuple) else v for k, v in selection.items() if v is not None}
    return fingerprint if not chosen else f"{fingerprint} {json.dumps(chosen, sort_keys=True)}"
