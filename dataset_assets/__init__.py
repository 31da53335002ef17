"""Save any finite tf.data.Dataset to disk, load it back identical, and prove it.

The format layer: it never imports Dagster (the integration, `dataset_assets.dagster`, builds on it).
"""

from .quiet import quiet_tensorflow

quiet_tensorflow()  # before TensorFlow is first imported (by .api): no C++ INFO lines

from .access import Artifact, open
from .api import read_manifest, save, versions
from .errors import ArtifactError, ArtifactExistsError, DatasetAssetsError, LimitExceededError, StorageFullError, UnsupportedDatasetError
from .fingerprint import fingerprint
from .formats import FORMATS
from .catalog import load_asset
from .integrity import VerifyReport, verify
from .manifest import Manifest
from .parts import commit_parts, save_part
from .pipelines import load_pipeline
from .storage import VersionInfo
from .recipes import Recipe, RecipeError, transform
from .selection import SelectionError
from .recipes.loading import load
from .version import __version__

__all__ = [
    "FORMATS",
    "Artifact",
    "ArtifactError",
    "ArtifactExistsError",
    "DatasetAssetsError",
    "LimitExceededError",
    "Manifest",
    "Recipe",
    "RecipeError",
    "SelectionError",
    "StorageFullError",
    "UnsupportedDatasetError",
    "VerifyReport",
    "VersionInfo",
    "__version__",
    "commit_parts",
    "fingerprint",
    "load",
    "load_asset",
    "load_pipeline",
    "open",
    "read_manifest",
    "save",
    "save_part",
    "transform",
    "verify",
    "versions",
]
