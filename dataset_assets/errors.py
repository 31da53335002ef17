"""The one exception family the library raises for bad input or bad artifacts."""


class DatasetAssetsError(Exception):
    """Base class: every error this library raises on purpose derives from it."""


class UnsupportedDatasetError(DatasetAssetsError, ValueError):
    """The dataset (or one of its features) cannot be written in the requested format."""


class ArtifactError(DatasetAssetsError):
    """An artifact on disk is missing, incomplete, corrupt or unsafe to read."""


class ArtifactExistsError(DatasetAssetsError, FileExistsError):
    """`save` would replace an existing artifact but `overwrite` is False."""


class StorageFullError(DatasetAssetsError, OSError):
    """The disk filled up during `save` (errno ENOSPC); the previous version is untouched."""


class LimitExceededError(UnsupportedDatasetError):
    """The dataset passed `save`'s `max_elements` or `max_bytes`; nothing was committed."""
