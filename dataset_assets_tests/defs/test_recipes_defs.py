"""Recipe and pipeline assets in a real Dagster run: data versions, staleness, the blocking rebuild check."""

import numpy as np
import pytest
import tensorflow as tf
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance, Definitions, asset, materialize
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from dataset_assets.dagster import DatasetIOManager, artifact_assets
from dataset_assets.defs.recipes import PIPELINES, RECIPES_DIR, build_recipe_defs, recipe_code_version
import dataset_assets as da
from dataset_assets import load_pipeline
from dataset_assets.recipes import Recipe, RecipeError, transform
from dataset_assets.recipes.transforms import cast
from dataset_assets_tests.helpers import assert_same_elements

RECIPE = """\
name: tiny_train
steps:
  - map: {transform: standardize, args: {fields: [image], per_channel: true}}
  - map: {transform: random_flip, seed: 3, args: {fields: [image]}}
  - map: {transform: cast, args: {dtype: int32, fields: [label]}}
  - shuffle: {buffer_size: 16, seed: 5}
  - map: {transform: select, args: {fields: [image, label], as_tuple: true}}
  - batch: {batch_size: 5}
"""
PIPELINE = AssetKey("tiny_train_pipeline")
CHECK = AssetCheckKey(PIPELINE, "rebuild")


def tiny_images() -> tf.data.Dataset:
    rng = np.random.default_rng(1)
    return tf.data.Dataset.from_tensor_slices(
        {"image": rng.integers(0, 256, (23, 6, 5, 3), dtype=np.uint8), "label": np.arange(23, dtype=np.int64) % 3}
    )


@asset(io_manager_key="dataset_io_manager")
def tiny_dataset() -> tf.data.Dataset:
    return tiny_images()


class Location:
    def __init__(self, tmp_path):
        self.recipes = tmp_path / "recipes"
        self.recipes.mkdir()
        (self.recipes / "tiny_train.yaml").write_text(RECIPE)
        self.base = tmp_path / "artifacts"
        manager = DatasetIOManager(format="npy", base_dir=str(self.base))
        self.resources = {"dataset_io_manager": manager, "npy_io_manager": manager}
        self.instance = DagsterInstance.ephemeral()

    def defs(self):
        assets, checks = build_recipe_defs(self.recipes, {"tiny_train": "tiny_npy"})
        tiny = artifact_assets(tiny_dataset, ["npy"], name="tiny")
        return [tiny_dataset, *tiny.assets, *assets], [*tiny.checks, *checks]

    def run(self, selection=None, raise_on_error=True):
        assets, checks = self.defs()
        return materialize(
            [*assets, *checks], resources=self.resources, instance=self.instance, selection=selection, raise_on_error=raise_on_error
        )

    def check(self):
        result = self.run(AssetSelection.checks(CHECK), raise_on_error=False)  # a failed blocking check fails the run
        (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "rebuild"]
        return evaluation

    def status(self, key: AssetKey) -> StaleStatus:
        assets, checks = self.defs()
        graph = Definitions(assets=assets, asset_checks=checks, resources=self.resources).resolve_asset_graph()
        return CachingStaleStatusResolver(self.instance, graph, LoadingContextForTest(self.instance)).get_status(key)


@pytest.fixture(scope="module")
def location(tmp_path_factory):
    """One materialized code location for the module; each test leaves it as it found it."""
    loc = Location(tmp_path_factory.mktemp("location"))
    result = loc.run()
    assert result.success
    failed = [e.asset_check_key for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == []
    return loc


def test_pipeline_asset_loads_ready_batches_equal_to_the_in_memory_build(location):
    source = Recipe.load(location.recipes / "tiny_train.yaml")
    in_memory = source.fit(tiny_images()).apply(tiny_images())
    from_disk = load_pipeline("tiny_train_pipeline", base_dir=location.base)
    assert_same_elements(from_disk, in_memory)
    assert from_disk.element_spec == (tf.TensorSpec([None, 6, 5, 3], tf.float32), tf.TensorSpec([None], tf.int32))
    stored = Recipe.load(location.base / "tiny_train_pipeline.recipe.yaml")
    assert stored.unfitted == [] and "mean:" in (location.base / "tiny_train_pipeline.recipe.yaml").read_text()

    recipe_event = location.instance.get_latest_materialization_event(AssetKey("tiny_train_recipe"))
    assert recipe_event.asset_materialization.tags["dagster/data_version"] == source.fingerprint
    pipeline_event = location.instance.get_latest_materialization_event(PIPELINE)
    assert pipeline_event.asset_materialization.metadata["recipe_fingerprint"].value == stored.fingerprint
    assert location.status(PIPELINE) == StaleStatus.FRESH


@pytest.mark.parametrize("options", [{"split": "[:40%]"}, {"shard": (2, 1)}, {"split": "[10:]", "shard": (3, 0), "shuffle_seed": 7}])
def test_pipeline_reads_only_the_elements_selected(location, options):
    """`split`, `shard` and `shuffle_seed` select what is read of the artifact; the recipe runs on that."""
    selected = da.load(location.base / "tiny_npy", **options)
    expected = sorted(int(e["label"]) for e in selected.as_numpy_iterator())
    assert 0 < len(expected) < 23
    for loaded in (load_pipeline("tiny_train_pipeline", base_dir=location.base, **options), da.load_asset("tiny_train_pipeline", base_dir=location.base, **options)):
        labels = [int(x) for _, batch in loaded.as_numpy_iterator() for x in batch]
        assert sorted(labels) == expected


def test_pipeline_refuses_a_version_and_unknown_options(location):
    with pytest.raises(da.ArtifactError, match="reads the artifact version it was built on"):
        load_pipeline("tiny_train_pipeline", base_dir=location.base, version="v1")
    with pytest.raises(TypeError, match="bogus"):
        da.load_asset("tiny_train_pipeline", base_dir=location.base, bogus=1)


def test_check_detects_the_stored_recipe_changed_behind_its_back(location):
    stored = location.base / "tiny_train_pipeline.recipe.yaml"
    original = stored.read_text()
    stored.write_text(original.replace("seed: 5", "seed: 6"))
    try:
        evaluation = location.check()
        assert not evaluation.passed
        problems = evaluation.metadata["problems"].value
        assert "tiny_train_pipeline.recipe.yaml changed behind the pipeline's back" in problems
        assert "rebuilt from disk: 5 elements, fingerprint sha256:" in problems  # a reshuffle: same count, other batches
        with pytest.raises(RecipeError, match="is not the recipe tiny_train_pipeline was built with"):
            load_pipeline("tiny_train_pipeline", base_dir=location.base)
        assert load_pipeline("tiny_train_pipeline", verified=False, base_dir=location.base) is not None
    finally:
        stored.write_text(original)
    evaluation = location.check()
    assert evaluation.passed and "problems" not in evaluation.metadata  # shown only when there are some


def test_a_transform_version_bump_makes_the_pipeline_stale(location):
    path = location.recipes / "tiny_train.yaml"
    before = recipe_code_version(path)
    try:
        transform("cast", version=2)(cast)  # its author changed what it computes
        assert recipe_code_version(path) != before
        assert location.status(PIPELINE) == StaleStatus.STALE
        with pytest.raises(RecipeError, match="a transform's version changed"):
            load_pipeline("tiny_train_pipeline", base_dir=location.base)
    finally:
        transform("cast", version=1)(cast)
    assert recipe_code_version(path) == before and location.status(PIPELINE) == StaleStatus.FRESH


def test_editing_the_recipe_makes_the_pipeline_stale_and_fails_the_check(location):
    path = location.recipes / "tiny_train.yaml"
    before = recipe_code_version(path)
    path.write_text(RECIPE.replace("batch_size: 5", "batch_size: 4"))
    assert recipe_code_version(path) != before
    assert location.status(AssetKey("tiny_train_recipe")) == StaleStatus.STALE
    assert location.status(PIPELINE) == StaleStatus.STALE
    evaluation = location.check()
    assert not evaluation.passed and "tiny_train.yaml changed since the pipeline was built" in evaluation.description

    result = location.run(AssetSelection.assets("tiny_train_recipe", "tiny_train_pipeline") | AssetSelection.checks(CHECK))
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    assert location.status(PIPELINE) == StaleStatus.FRESH
    assert next(iter(load_pipeline("tiny_train_pipeline", base_dir=location.base)))[0].shape[0] == 4


def test_shipped_recipes_are_valid_and_name_existing_artifacts():
    for name, artifact in PIPELINES.items():
        recipe = Recipe.load(RECIPES_DIR / f"{name}.yaml")
        assert recipe.finite and recipe.name == name
        assert artifact.startswith(name.split("_")[0] + "_")
    spec = {"image": tf.TensorSpec([8, 8, 1], tf.uint8), "label": tf.TensorSpec([], tf.int64)}
    assert Recipe.load(RECIPES_DIR / "image_train.yaml").validate(spec) == (
        tf.TensorSpec([None, 8, 8, 1], tf.float32),
        tf.TensorSpec([None], tf.int64),
    )
    numeric = Recipe.load(RECIPES_DIR / "numeric_train.yaml")
    assert numeric.unfitted == [1]  # fitted when numeric_train_pipeline is built


def test_shipped_image_split_is_disjoint_and_complete():
    # label = the element's index, so the batches tell which elements each recipe kept
    index = tf.data.Dataset.range(1000).map(lambda i: {"image": tf.zeros([8, 8, 1], tf.uint8), "label": i})
    train = np.concatenate([y.numpy() for _, y in Recipe.load(RECIPES_DIR / "image_train.yaml").apply(index)])
    test = np.concatenate([y.numpy() for _, y in Recipe.load(RECIPES_DIR / "image_test.yaml").apply(index)])
    assert len(train) == 800 and len(test) == 200
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(1000))
