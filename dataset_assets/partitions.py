"""Partitioned artifacts: each partition is its own versioned artifact, `<asset>/<partition>/`.

A multi-partitioned asset nests one folder per dimension (`<asset>/<value of dim a>/<value of dim b>/`,
dimensions in name order, as Dagster's `UPathIOManager` lays them out). `combine` turns the
datasets of several partitions into one `tf.data.Dataset`. No Dagster here: the IO manager and
`load_asset` both use it.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from .errors import ArtifactError, UnsupportedDatasetError
from .storage import Location

COMMIT_RECORD = "current.json"
MAX_DEPTH = 4  # multi-partitions have two dimensions; deeper folders are not partitions of this asset


def check_partition_key(key: str) -> str:
    """`key` as a relative path below the asset's folder; refuses anything that could leave it."""
    parts = key.split("/") if isinstance(key, str) else None
    if not parts or any(p in ("", ".", "..") or "\\" in p or p.startswith(".") for p in parts):
        raise ArtifactError(f"{key!r} is not a partition key (give e.g. '2024-01-01', or 'a/b' for a multi-partition)")
    return key


def partition_keys(asset_dir) -> list[str]:
    """The partitions stored under `asset_dir`, sorted (for date keys: oldest first); [] when it is not partitioned."""
    root = Location.of(asset_dir)
    found: list[str] = []

    def walk(location: Location, prefix: tuple[str, ...]) -> None:
        for name in location.list_names():
            if name.startswith(".") or name.endswith(".json") or name.endswith(".yaml"):
                continue
            child = location.child(name)
            if child.child(COMMIT_RECORD).exists():
                found.append("/".join((*prefix, name)))
            elif len(prefix) + 1 < MAX_DEPTH:
                walk(child, (*prefix, name))

    if not root.child(COMMIT_RECORD).exists():
        walk(root, ())
    return sorted(found)


def combine(datasets: Mapping[str, tf.data.Dataset], interleave: bool = False, what: str = "the asset") -> tf.data.Dataset:
    """One dataset of several partitions, in the mapping's order (interleaved element by element with `interleave`).

    Every partition must have the element_spec of the first; an error names the one that differs.
    """
    if not datasets:
        raise ArtifactError(f"no partitions of {what} to load: materialize at least one first")
    (first_key, first), *rest = datasets.items()
    for key, dataset in rest:
        if dataset.element_spec != first.element_spec:
            raise UnsupportedDatasetError(
                f"partition {key!r} of {what} has element_spec {dataset.element_spec}, but partition {first_key!r} has "
                f"{first.element_spec}: partitions loaded as one dataset must share one element_spec; "
                "re-materialize the partition that is wrong, or load the partitions one by one"
            )
    if len(datasets) == 1:
        return first
    if interleave:
        choices = tf.data.Dataset.range(len(datasets)).repeat()
        # round robin; a partition that runs out is skipped, so every element of every partition comes once
        mixed = tf.data.Dataset.choose_from_datasets(list(datasets.values()), choices, stop_on_empty_dataset=False)
        sizes = [int(d.cardinality()) for d in datasets.values()]
        return mixed.apply(tf.data.experimental.assert_cardinality(sum(sizes))) if min(sizes) >= 0 else mixed
    combined = first
    for _, dataset in rest:
        combined = combined.concatenate(dataset)
    return combined
