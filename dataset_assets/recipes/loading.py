"""`dataset_assets.load`: the format library's `load`, with a recipe applied on top when one is given."""

from __future__ import annotations

import tensorflow as tf

from .. import api
from .recipe import Recipe


def load(path, recipe=None, **options) -> tf.data.Dataset:
    """The dataset saved at `path` (see `dataset_assets.api.load` for `version`, `checked`, `storage_options`).

    `recipe` (a `Recipe`, a dict, or the path of a recipe YAML/JSON file): the pipeline it describes
    is applied to the loaded dataset. The recipe is read and checked before the artifact is opened.
    """
    recipe = None if recipe is None else Recipe.coerce(recipe)
    dataset = api.load(path, **options)
    return dataset if recipe is None else recipe.apply(dataset, source_id=dataset.manifest.fingerprint)
