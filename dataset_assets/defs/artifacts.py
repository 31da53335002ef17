"""Group `artifacts`: `<dataset>_<format>` for every format that can hold the dataset, made by the public factory."""

from dagster import AssetsDefinition

from ..dagster import ArtifactDefs, artifact_assets

# pathlist holds images (with labels) and path lists only, so the table and numeric data skip it.
ARTIFACT_FORMATS: dict[str, tuple[str, ...]] = {
    "numeric": ("npy", "hdf5", "tfrecord", "tfdata"),
    "image": ("pathlist", "tfrecord", "npy", "hdf5", "tfdata"),
    "table": ("tfrecord", "hdf5", "npy", "tfdata"),
}


def build_artifact_defs(datasets: dict[str, AssetsDefinition]) -> ArtifactDefs:
    """The artifacts of each `<short>_dataset` asset in `datasets` (keyed by short name), with their checks."""
    made = [artifact_assets(asset, ARTIFACT_FORMATS[short], name=short) for short, asset in datasets.items()]
    return ArtifactDefs([a for m in made for a in m.assets], [c for m in made for c in m.checks])
