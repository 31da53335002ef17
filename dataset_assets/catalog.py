"""`load_asset`: the latest verified version of an asset by name, without Dagster; `available`: the names there are.

A name is an artifact, a partitioned asset (one artifact per partition) or a built pipeline (an
artifact plus its fitted recipe, `pipelines`). Where names live and how stamps pin the verified
version is `home`'s part; this module only resolves a name to one of those and loads it.
"""

from __future__ import annotations

import os

from .errors import ArtifactError
from .home import HOME_ENV, artifact_base, artifact_path, check_verified, key_parts
from .partitions import check_partition_key, combine, partition_keys
from .pipelines import POINTER_SUFFIX, open_pipeline
from .storage import ArtifactStore, Location


def available(base_dir=None) -> list[str]:
    """Names under `base_dir` that `load_asset` can load: artifacts, partitioned assets (or key prefixes), pipelines."""
    base = artifact_base(base_dir)
    root = Location.of(base)

    names = root.list_names()
    candidates = [n for n in names if not n.startswith(".") and not n.endswith(".json") and not n.endswith(".yaml")]
    artifacts = {n for n in candidates if root.child(n, "current.json").exists() or root.child(n, "manifest.json").exists()}
    nested = {n for n in candidates if n not in artifacts and partition_keys(base / n)}
    pipelines = {n[: -len(POINTER_SUFFIX)] for n in names if n.endswith(POINTER_SUFFIX)}
    return sorted(artifacts | nested | pipelines)


def load_asset(
    name,
    verified: bool = True,
    base_dir=None,
    *,
    partition: str | None = None,
    partitions: list[str] | None = None,
    partition_range: tuple[str, str] | None = None,
    interleave: bool = False,
    storage_options: dict | None = None,
    **load_options,
):
    """The latest verified version of artifact `name` as a tf.data.Dataset, read from storage (no Dagster, no run).

    `name`: "numeric_tfrecord", "team/events" or ["team", "events"] (a key with a prefix). With
    `verified=True` (the default) it is the version its round-trip check last passed on, even when
    a newer one has been committed since and not yet checked. A partitioned asset gives one
    dataset of `partition`, of `partitions`, of the stored partitions from `partition_range[0]` to
    `partition_range[1]` (both included), or of every stored partition: in partition-key order,
    or interleaved element by element with `interleave=True`. `load_options` go to `load`.
    """
    artifact = artifact_path(name, base_dir)
    chosen = [partition] if partition is not None else partitions
    root = Location.of(artifact, storage_options)
    pointer = artifact.with_name(artifact.name + POINTER_SUFFIX)
    if chosen is None and partition_range is None and root.is_local and pointer.is_file():
        return open_pipeline(pointer, verified, **load_options)[0]  # a pipeline asset (local only): an artifact + its recipe, ready-to-train batches
    store = ArtifactStore(root)
    if store.record() is not None or store.is_legacy():
        if chosen is not None or partition_range is not None:
            raise ArtifactError(f"{artifact} is not partitioned: load it without partition/partitions/partition_range")
        return _load_version(artifact, verified, storage_options, load_options)
    stored = partition_keys(artifact)
    if not stored:
        names = available(base_dir)
        raise ArtifactError(
            f"no artifact {'/'.join(key_parts(name))!r} in {artifact.parent} ({HOME_ENV}={os.environ.get(HOME_ENV, '<unset>')}); "
            + (f"available: {', '.join(names)}" if names else "nothing is materialized there yet: run `dataset-assets materialize`")
        )
    if partition_range is not None:
        first, last = partition_range
        chosen = [k for k in stored if first <= k <= last]
        if not chosen:
            raise ArtifactError(f"{artifact} has no partition from {first!r} to {last!r}; stored: {_some(stored)}")
    elif chosen is None:
        chosen = stored
    missing = [k for k in chosen if check_partition_key(k) not in stored]
    if missing:
        raise ArtifactError(f"{artifact} has no partition {', '.join(map(repr, missing))}; stored: {_some(stored)}. Materialize it first")
    datasets = {k: _load_version(artifact.joinpath(*k.split("/")), verified, storage_options, load_options) for k in chosen}
    return combine(datasets, interleave, what=str(artifact))


def _some(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (f" ... ({len(keys)} in all)" if len(keys) > n else "")


def _load_version(artifact, verified: bool, storage_options, load_options):
    from .api import load

    if not verified:
        return load(artifact, storage_options=storage_options, **load_options)
    version, _ = check_verified(artifact, storage_options)
    return load(artifact, version=version, storage_options=storage_options, **load_options)
