"""Groups `recipes` and `pipelines`: recipe files as assets, and `<dataset>_<recipe>_pipeline` assets.

- `<name>_recipe`: the YAML file `data/recipes/<name>.yaml`, validated. Its code version (set when
  the code location loads) and its data version are the recipe's fingerprint, which covers the
  steps and every used transform's version: editing the file or bumping a transform's version
  marks it, and everything downstream, stale.
- `<name>_pipeline`: the recipe fitted on an artifact (statistics computed here, once) and saved
  beside it as `<name>_pipeline.recipe.yaml`, plus the pointer `<name>_pipeline.pipeline.json`
  that `dataset_assets.load_pipeline("<name>_pipeline")` rebuilds ready-to-train batches
  from. Its data version is the content fingerprint of those batches. Pipelines must be finite
  (no `repeat` forever): the check compares every element.
- check `rebuild` (blocking): the pipeline rebuilt from the files on disk gives exactly the
  elements built in memory at materialization, and neither recipe file nor the artifact changed since.
"""

import hashlib
import json
import os
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetChecksDefinition,
    AutomationCondition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from .. import api
from ..columns import Layout, iter_batches
from ..errors import DatasetAssetsError
from ..fingerprint import Fingerprinter
from ..api import read_manifest
from ..recipes import Recipe, RecipeError
from ..pipelines import POINTER_SUFFIX, manifest_sha256, open_pipeline, read_pointer, write_pipeline
from ..spec import spec_to_json
from ..dagster import ARTIFACT_AUTOMATION, CHECK_AUTOMATION, element_spec_schema, io_manager_key, preview_markdown
from .resources import PROJECT_ROOT

RECIPES_ENV = "DATASET_ASSETS_RECIPES"
RECIPES_DIR = PROJECT_ROOT / "data" / "recipes"  # the checkout's; set $DATASET_ASSETS_RECIPES for another folder
# recipe file stem -> the artifact asset its pipeline is built on
PIPELINES: dict[str, str] = {"image_train": "image_pathlist", "image_test": "image_pathlist", "numeric_train": "numeric_npy"}
RECIPE_AUTOMATION = AutomationCondition.on_missing() | AutomationCondition.code_version_changed()


def recipe_code_version(path: Path) -> str:
    """The recipe's fingerprint; a broken or missing file still loads the code location (materializing says why)."""
    try:
        return Recipe.load(path).fingerprint[7:23]
    except RecipeError:
        try:
            return "invalid-" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            return "missing"


def _content(dataset) -> tuple[str, int]:
    """Content fingerprint and element count, streamed once in batches."""
    layout = Layout(dataset.element_spec)
    fp = Fingerprinter(layout)
    for batch in iter_batches(dataset, layout):
        fp.update(batch)
    return fp.hexdigest(), fp.count


def recipe_asset(name: str, path: Path) -> AssetsDefinition:
    @asset(
        name=f"{name}_recipe",
        group_name="recipes",
        code_version=recipe_code_version(path),
        automation_condition=RECIPE_AUTOMATION,
        kinds={"yaml"},
        tags={"recipe_file": path.name},
        description=f"The pipeline recipe {path.name}, validated; its data version is the recipe fingerprint.",
    )
    def _recipe(context: AssetExecutionContext) -> MaterializeResult:
        recipe = Recipe.load(path)
        functions = recipe.canonical()["functions"]
        return MaterializeResult(
            data_version=DataVersion(recipe.fingerprint),
            metadata={
                "path": MetadataValue.path(str(path)),
                "fingerprint": recipe.fingerprint,
                "steps": len(recipe.steps),
                "functions": ", ".join(f"{k} v{v}" for k, v in functions.items()) or "none",
                "finite": recipe.finite,
                "needs_fit": ", ".join(f"step {i}" for i in recipe.unfitted) or "no",
                "recipe": MetadataValue.md(f"```yaml\n{recipe.to_yaml()}```"),
            },
        )

    return _recipe


def pipeline_asset(name: str, artifact: str, path: Path) -> AssetsDefinition:
    key = io_manager_key(artifact.rsplit("_", 1)[-1])

    @asset(
        name=f"{name}_pipeline",
        group_name="pipelines",
        deps=[AssetKey(f"{name}_recipe"), AssetKey(artifact)],
        required_resource_keys={key},
        code_version=recipe_code_version(path),
        automation_condition=ARTIFACT_AUTOMATION,
        kinds={"tensorflow"},
        description=f"{artifact} through the recipe {path.name}: ready-to-train batches, "
        f'loaded with dataset_assets.load_pipeline("{name}_pipeline").',
    )
    def _pipeline(context: AssetExecutionContext) -> MaterializeResult:
        artifact_dir = getattr(context.resources, key).artifact_dir(AssetKey(artifact))
        source = Recipe.load(path)
        if not source.finite:
            raise RecipeError(f"{path}: a pipeline asset must be finite (it is checked element by element); drop the endless repeat")
        manifest = read_manifest(artifact_dir)
        fitted = source.fit(api.load(artifact_dir))  # statistics computed once, here, and stored in the recipe file
        built = fitted.apply(api.load(artifact_dir), source_id=manifest.fingerprint)
        elements, count = _content(built)
        pointer = write_pipeline(
            f"{name}_pipeline",
            artifact_dir,
            fitted,
            source_recipe=str(path),
            source_recipe_fingerprint=source.fingerprint,
            elements_fingerprint=elements,
            num_elements=count,
            element_spec=spec_to_json(built.element_spec),
        )
        return MaterializeResult(
            data_version=DataVersion(elements),
            metadata={
                "pointer": MetadataValue.path(str(pointer)),
                "artifact": artifact,
                "artifact_fingerprint": manifest.fingerprint,
                "recipe_fingerprint": fitted.fingerprint,
                "source_recipe_fingerprint": source.fingerprint,
                "fingerprint": elements,
                "num_elements": count,
                "dagster/column_schema": element_spec_schema(built.element_spec),
                "preview": MetadataValue.md(preview_markdown(built, 1)),
            },
        )

    return _pipeline


def pipeline_check(name: str, artifact: str, path: Path) -> AssetChecksDefinition:
    key = io_manager_key(artifact.rsplit("_", 1)[-1])
    pipeline = f"{name}_pipeline"

    @asset_check(
        asset=AssetKey(pipeline),
        name="rebuild",
        blocking=True,
        required_resource_keys={key},
        automation_condition=CHECK_AUTOMATION,
        description=f"{pipeline} rebuilt from its files on disk gives exactly the elements built in memory when it was "
        f"materialized; {path.name}, the stored recipe and {artifact} are unchanged since.",
    )
    def _rebuild(context: AssetCheckExecutionContext) -> AssetCheckResult:
        artifact_dir = getattr(context.resources, key).artifact_dir(AssetKey(artifact))
        pointer = artifact_dir.parent / f"{pipeline}{POINTER_SUFFIX}"
        problems, metadata = [], {"pointer": MetadataValue.path(str(pointer))}
        try:
            doc = read_pointer(pointer)
            dataset, recipe, _ = open_pipeline(pointer, verified=False)
            elements, count = _content(dataset)
            metadata.update(fingerprint=elements, num_elements=count, recipe_fingerprint=recipe.fingerprint)
            if recipe.fingerprint != doc.get("recipe_fingerprint"):
                problems.append(
                    f"{doc['recipe_file']} changed behind the pipeline's back (fingerprint {recipe.fingerprint}, "
                    f"built with {doc.get('recipe_fingerprint')}): edited, or a transform's version changed"
                )
            if (elements, count) != (doc.get("elements_fingerprint"), doc.get("num_elements")):
                problems.append(
                    f"rebuilt from disk: {count} elements, fingerprint {elements}; built in memory: "
                    f"{doc.get('num_elements')} elements, fingerprint {doc.get('elements_fingerprint')}"
                )
            if manifest_sha256(artifact_dir) != doc.get("artifact_manifest_sha256"):
                problems.append(f"{artifact} was rewritten since the pipeline was built on it")
            current = Recipe.load(path).fingerprint
            if current != doc.get("source_recipe_fingerprint"):
                problems.append(f"{path} changed since the pipeline was built (now {current}); materialize {pipeline} again")
        except (DatasetAssetsError, OSError, json.JSONDecodeError) as e:
            problems.append(str(e))
        return AssetCheckResult(
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description="rebuild: passed" if not problems else f"rebuild: FAILED: {problems[0]}",
            metadata={**metadata, **({"problems": MetadataValue.md("\n".join(f"- {p}" for p in problems))} if problems else {})},
        )

    return _rebuild


def default_recipes_dir() -> Path:
    """The recipe folder: `$DATASET_ASSETS_RECIPES`, else the checkout's `data/recipes`."""
    return Path(os.environ[RECIPES_ENV]).expanduser() if os.environ.get(RECIPES_ENV) else RECIPES_DIR


def build_recipe_defs(
    recipes_dir: Path | None = None, pipelines: dict[str, str] = PIPELINES
) -> tuple[list[AssetsDefinition], list[AssetChecksDefinition]]:
    """A recipe asset per `<recipes_dir>/*.yaml`, a pipeline asset + check per `pipelines` entry (read when called)."""
    recipes_dir = recipes_dir or default_recipes_dir()
    names = sorted({p.stem for p in Path(recipes_dir).glob("*.yaml")} | set(pipelines))
    assets = [recipe_asset(n, Path(recipes_dir) / f"{n}.yaml") for n in names]
    assets += [pipeline_asset(n, a, Path(recipes_dir) / f"{n}.yaml") for n, a in sorted(pipelines.items())]
    checks = [pipeline_check(n, a, Path(recipes_dir) / f"{n}.yaml") for n, a in sorted(pipelines.items())]
    return assets, checks

