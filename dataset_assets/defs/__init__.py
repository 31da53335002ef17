"""The demo code location, built on the public `dataset_assets.dagster` module: raw sources -> datasets -> artifacts.

    group raw        raw_numeric, raw_images, raw_table            (files, validated)
    group datasets   numeric_dataset, image_dataset, table_dataset (tf.data.Dataset, npy store)
    group artifacts  <dataset>_<format>                            (dataset_assets.save)
    group recipes    <name>_recipe                                 (<recipes folder>/<name>.yaml)
    group pipelines  <name>_pipeline                               (an artifact + a recipe, ready to train)

Importing this package builds nothing: `build_defs()` (called by `definitions.py`) does.
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, in_process_executor

from ..dagster import NpyIOManager, integrity_check, io_managers
from .artifacts import ARTIFACT_FORMATS, build_artifact_defs
from .datasets import DATASET_ASSETS, DATASET_IO_MANAGER
from .jobs import JOBS
from .raw import raw_images, raw_numeric, raw_table
from .recipes import PIPELINES, build_recipe_defs
from .resources import RawData
from .schedules import SCHEDULES, SENSORS


def build_resources(base_dir: str | None = None) -> dict:
    """Resources of the code location; `base_dir` overrides where every artifact goes (default: the home)."""
    return {"raw_data": RawData(), DATASET_IO_MANAGER: NpyIOManager(base_dir=base_dir), **io_managers(base_dir)}


def build_assets_and_checks(recipes_dir: Path | None = None, pipelines: dict[str, str] = PIPELINES) -> tuple[list, list]:
    """Every asset and check of the demo graph (the recipe folder is read here, not at import)."""
    artifacts = build_artifact_defs(DATASET_ASSETS)
    recipe_assets, recipe_checks = build_recipe_defs(recipes_dir, pipelines)
    assets = [raw_numeric, raw_images, raw_table, *DATASET_ASSETS.values(), *artifacts.assets, *recipe_assets]
    checks = [*(integrity_check(a) for a in DATASET_ASSETS.values()), *artifacts.checks, *recipe_checks]
    return assets, checks


def build_defs(base_dir: str | None = None, recipes_dir: Path | None = None) -> Definitions:
    """The demo code location. Steps run in one process: TensorFlow is imported once per run, not once per step."""
    assets, checks = build_assets_and_checks(recipes_dir)
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=build_resources(base_dir),
        executor=in_process_executor,
    )


__all__ = ["ARTIFACT_FORMATS", "RawData", "build_assets_and_checks", "build_defs", "build_resources"]
