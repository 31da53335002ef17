"""`dataset_assets.load(path, recipe=...)`: an artifact and its pipeline in one call."""

import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.recipes import Recipe, RecipeError
from dataset_assets_tests.helpers import assert_same_elements

from .conftest import make_images


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / "images"
    da.save(make_images(), path, format="npy")
    return path


RECIPE = (
    Recipe(name="train")
    .map("normalize", fields=["image"])
    .map("random_flip", seed=4, fields=["image"])
    .shuffle(10, seed=9)
    .map("select", fields=["image", "label"], as_tuple=True)
    .batch(5)
)


@pytest.mark.parametrize("form", ["object", "yaml", "json"])
def test_load_applies_the_recipe(artifact, tmp_path, form):
    recipe = RECIPE if form == "object" else RECIPE.save(tmp_path / f"train.{form}")
    loaded = da.load(artifact, recipe=recipe)
    assert_same_elements(loaded, RECIPE.apply(make_images()))
    assert_same_elements(loaded, RECIPE.apply(da.load(artifact)))


def test_recipe_saved_beside_the_artifact_round_trips(artifact):
    path = RECIPE.save(artifact.parent / "images.recipe.yaml")
    assert Recipe.load(path) == RECIPE
    assert da.verify(artifact).ok, "a recipe beside the artifact leaves the artifact intact"


def test_fitted_recipe_through_load(artifact):
    fitted = Recipe().map("standardize", fields=["image"]).batch(8).fit(da.load(artifact))
    assert_same_elements(da.load(artifact, recipe=fitted), fitted.apply(make_images()))


def test_bad_recipe_or_spec_mismatch(artifact, tmp_path):
    with pytest.raises(RecipeError, match="unbatch"):
        da.load(artifact, recipe=Recipe().unbatch())
    with pytest.raises(RecipeError, match="a recipe is a Recipe"):
        da.load(artifact, recipe=42)


def test_file_cache_uses_the_cache_dir_and_the_artifact_fingerprint(artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_CACHE_DIR", str(tmp_path / "cache"))
    recipe = Recipe().map("normalize", fields=["image"]).cache("images")
    assert_same_elements(da.load(artifact, recipe=recipe), recipe.apply(make_images()))
    assert any(p.name.startswith("images-") for p in (tmp_path / "cache").iterdir())


def test_file_cache_is_keyed_on_the_elements_selected(tmp_path, monkeypatch):
    """One cache file per split, shard and seed: a second split never reads the first one's cache."""
    monkeypatch.setenv("DATASET_ASSETS_CACHE_DIR", str(tmp_path / "cache"))
    da.save(tf.data.Dataset.range(24), tmp_path / "ids", format="npy")
    recipe = Recipe().cache("ids")
    for options, expected in [
        ({}, list(range(24))),
        ({"split": "[:3]"}, [0, 1, 2]),
        ({"split": "[20:]"}, [20, 21, 22, 23]),
        ({"shard": (2, 1)}, list(range(12, 24))),
        ({"split": "[20:]"}, [20, 21, 22, 23]),  # its own cache, written above, read back
    ]:
        assert list(da.load(tmp_path / "ids", recipe, **options).as_numpy_iterator()) == expected, options
    assert len([p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".index")]) == 4
