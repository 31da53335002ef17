"""The code location's shape, asserted exactly so the graph cannot change silently; it loads with the dagster CLI."""

from pathlib import Path

from dagster import AssetCheckKey, AssetKey

from dataset_assets.definitions import defs
from dataset_assets.dagster import ARTIFACT_AUTOMATION
from dataset_assets.defs.recipes import RECIPE_AUTOMATION
from dataset_assets_tests.helpers import dagster_validate

REPO = Path(__file__).resolve().parents[2]

GROUPS = {
    "raw": {"raw_numeric", "raw_images", "raw_table"},
    "datasets": {"numeric_dataset", "image_dataset", "table_dataset"},
    "artifacts": {
        "numeric_npy", "numeric_hdf5", "numeric_tfrecord", "numeric_tfdata",
        "image_pathlist", "image_tfrecord", "image_npy", "image_hdf5", "image_tfdata",
        "table_tfrecord", "table_hdf5", "table_npy", "table_tfdata",
    },
    "recipes": {"image_train_recipe", "image_test_recipe", "numeric_train_recipe"},
    "pipelines": {"image_train_pipeline", "image_test_pipeline", "numeric_train_pipeline"},
}


def test_asset_keys_and_groups_are_exactly_these():
    graph = defs.resolve_asset_graph()
    actual: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        actual.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert actual == GROUPS


def test_every_artifact_and_dataset_has_its_blocking_checks():
    graph = defs.resolve_asset_graph()
    expected = {AssetCheckKey(AssetKey(f"{d}_dataset"), "integrity") for d in ("numeric", "image", "table")}
    expected |= {AssetCheckKey(AssetKey(a), n) for a in GROUPS["artifacts"] for n in ("integrity", "round_trip")}
    expected |= {AssetCheckKey(AssetKey(p), "rebuild") for p in GROUPS["pipelines"]}
    assert set(graph.asset_check_keys) == expected
    assert all(graph.get_check_spec(k).blocking for k in expected)


def test_lineage_raw_to_dataset_to_artifacts():
    graph = defs.resolve_asset_graph()
    for short in ("numeric", "image", "table"):
        assert graph.get(AssetKey(f"{short}_dataset")).parent_keys == {AssetKey(f"raw_{'images' if short == 'image' else short}")}
        children = {k.to_user_string() for k in graph.get(AssetKey(f"{short}_dataset")).child_keys}
        assert children == {a for a in GROUPS["artifacts"] if a.startswith(short + "_")}


def test_artifacts_follow_their_dataset_automatically_and_the_rest_does_not():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        condition = graph.get(key).automation_condition
        name = key.to_user_string()
        if name in GROUPS["artifacts"] | GROUPS["pipelines"]:
            assert condition == ARTIFACT_AUTOMATION
        elif name in GROUPS["recipes"]:
            assert condition == RECIPE_AUTOMATION  # a recipe file edited on disk re-materializes itself
        else:
            assert condition is None


def test_dagster_definitions_validate_exits_0():
    output = dagster_validate(REPO)
    assert "dataset_assets" in output
