"""Pipeline recipes: a tf.data pipeline saved as a declarative YAML file beside its data.

    recipe = Recipe.load("train.yaml")          # validated, nothing evaluated or imported
    ds = recipe.apply(dataset_assets.load(path))  # or dataset_assets.load(path, recipe=...)

Transforms are plain functions registered by name with `@transform(name, version=...)`;
the shipped ones live in `transforms` and are registered on import. No Dagster here.
"""

from . import transforms  # noqa: F401  (registers the shipped transforms)
from .recipe import Recipe, default_cache_dir
from .registry import RecipeError, predicate, registered, transform
from .steps import STEP_KINDS

__all__ = ["STEP_KINDS", "Recipe", "RecipeError", "default_cache_dir", "predicate", "registered", "transform"]
