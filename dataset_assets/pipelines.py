"""A built pipeline on disk: a small JSON pointer naming an artifact and a fitted recipe file beside it.

    <base>/<artifact>/                      the artifact (dataset_assets.save)
    <base>/<pipeline>.recipe.yaml           the recipe, fitted (statistics stored), as built
    <base>/<pipeline>.pipeline.json         this pointer: names + fingerprints of both, and of the output

`dataset_assets.load_pipeline(name)` rebuilds the ready-to-train dataset from those files alone. With
`verified=True` it refuses a recipe file edited (or a transform version bumped) since the
pipeline was built, and an artifact that is not the verified one it was built on.
The catalog layer: it stands on the format library (`api`, `storage`), the recipes and `home`, and
never imports Dagster; the code location writes pointers with `write_pipeline`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from .errors import ArtifactError
from .home import artifact_path, check_verified
from .recipes.recipe import Recipe
from .recipes.registry import RecipeError

POINTER_SUFFIX = ".pipeline.json"
RECIPE_SUFFIX = ".recipe.yaml"
POINTER_KIND = "dataset_assets.pipeline"
POINTER_VERSION = 1


def pointer_path(name: str, base_dir: str | os.PathLike | None = None) -> Path:
    return artifact_path(name, base_dir).with_name(name + POINTER_SUFFIX)


def write_pipeline(name: str, artifact_dir: str | os.PathLike, recipe: Recipe, **extra) -> Path:
    """Save `recipe` as `<name>.recipe.yaml` and the pointer `<name>.pipeline.json` beside `artifact_dir`.

    `extra` (JSON data, e.g. the output's content fingerprint) is recorded in the pointer."""
    from .api import read_manifest

    artifact_dir = Path(artifact_dir).absolute()
    manifest = read_manifest(artifact_dir)
    recipe_file = recipe.save(artifact_dir.parent / f"{name}{RECIPE_SUFFIX}")
    doc = {
        "kind": POINTER_KIND,
        "version": POINTER_VERSION,
        "pipeline": name,
        "artifact": artifact_dir.name,  # relative: the folder can move as a whole
        "artifact_fingerprint": manifest.fingerprint,
        "artifact_version": manifest.version,
        "artifact_manifest_sha256": manifest_sha256(artifact_dir, manifest.version),
        "recipe_file": recipe_file.name,
        "recipe_fingerprint": recipe.fingerprint,
        **extra,
    }
    target = artifact_dir.parent / f"{name}{POINTER_SUFFIX}"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, target)  # written last: a pointer always names files that exist
    return target


def manifest_sha256(artifact_dir: Path, version: str | None = None) -> str:
    """The digest `home` stamps verified versions with: the sha256 of the version's manifest, from the commit record."""
    from .storage import ArtifactStore, Location

    return ArtifactStore(Location.of(artifact_dir)).info(version).manifest_sha256


def read_pointer(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: the pipeline has not been built; materialize it first") from None
    except ValueError as e:
        raise ArtifactError(f"{path} is not valid JSON ({e}); materialize the pipeline again") from None
    if not isinstance(doc, dict) or doc.get("kind") != POINTER_KIND:
        raise ArtifactError(f"{path} is not a dataset_assets pipeline pointer")
    if doc.get("version", 0) > POINTER_VERSION:
        raise ArtifactError(f"{path} was written by a newer dataset-assets (pointer version {doc.get('version')}); upgrade")
    for key in ("artifact", "recipe_file"):
        value = doc.get(key)
        if not isinstance(value, str) or not value or "/" in value or "\\" in value or value.startswith("."):
            raise ArtifactError(f"{path}: {key} must name a file beside the pointer, not {value!r}")
    return doc


def open_pipeline(path: str | os.PathLike, verified: bool = True, **load_options) -> tuple[tf.data.Dataset, Recipe, dict]:
    """(dataset, recipe, pointer) rebuilt from the pointer file at `path`.

    `load_options` (`split`, `shard`, `shuffle_seed`, `checked`) select what is read of the
    artifact, before the recipe; its version is the one the pipeline was built on.
    """
    from .recipes.loading import load

    if "version" in load_options:
        raise ArtifactError(
            f"{path}: a pipeline reads the artifact version it was built on (its pointer names it); "
            "leave out version=, or load the artifact itself with dataset_assets.load(path, recipe, version=...)"
        )
    path = Path(path)
    doc = read_pointer(path)
    artifact = path.parent / doc["artifact"]
    recipe = Recipe.load(path.parent / doc["recipe_file"])
    version = doc.get("artifact_version")
    if verified:
        if recipe.fingerprint != doc.get("recipe_fingerprint"):
            raise RecipeError(
                f"{path.parent / doc['recipe_file']} is not the recipe {doc['pipeline']} was built with "
                f"(fingerprint {recipe.fingerprint}, built with {doc.get('recipe_fingerprint')}): the file was edited "
                "or a transform's version changed since. Materialize the pipeline again"
            )
        version, digest = check_verified(artifact)
        if digest != doc.get("artifact_manifest_sha256"):
            raise ArtifactError(
                f"{artifact} changed since {doc['pipeline']} was built on it (fitted statistics may no longer match); "
                "materialize the pipeline again"
            )
    return load(artifact, recipe, version=version, **load_options), recipe, doc


def load_pipeline(name: str, verified: bool = True, base_dir: str | os.PathLike | None = None, **load_options) -> tf.data.Dataset:
    """The built pipeline `name` (e.g. "image_train_pipeline") as ready-to-train batches, read from disk.

    `load_options` (`split`, `shard`, `shuffle_seed`, `checked`) go to `load` of its artifact.
    """
    return open_pipeline(pointer_path(name, base_dir), verified, **load_options)[0]
