"""Where an artifact lives: a local folder or a prefix on any fsspec filesystem.

`Location.of` accepts a local path, an fsspec URL (`s3://`, `gs://`, `az://`, `memory://`,
`file://`) or a `upath.UPath`, with credentials and endpoints from `storage_options`, the
UPath's own options, or the environment (s3fs reads `AWS_ENDPOINT_URL` and the AWS
variables). The formats never see a URL: they write and read local files, and this layer
moves them (`storage.versions`, `storage.cache`).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import fsspec

from ..errors import ArtifactError

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}


@dataclass(frozen=True)
class Location:
    fs: fsspec.AbstractFileSystem = field(repr=False, compare=False)
    path: str  # the filesystem's own path: "/abs/dir" locally, "bucket/prefix" on S3
    url: str  # as shown to people

    @classmethod
    def of(cls, target, storage_options: dict | None = None) -> "Location":
        if isinstance(target, Location):
            return target
        options = dict(storage_options or {})
        protocol = getattr(target, "protocol", None)
        if protocol is not None and hasattr(target, "storage_options"):  # a UPath
            if protocol in ("", "file", "local"):
                return cls._local(os.fspath(target))
            merged = {**dict(target.storage_options), **options}
            return cls._remote(str(target), merged)
        text = os.fspath(target)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        if "://" not in text:
            return cls._local(text)
        if text.startswith("file://"):
            return cls._local(fsspec.core.url_to_fs(text)[1])
        return cls._remote(text, options)

    @classmethod
    def _local(cls, text: str) -> "Location":
        path = os.path.abspath(os.path.expanduser(text))
        return cls(fsspec.filesystem("file"), path, path)

    @classmethod
    def _remote(cls, url: str, options: dict) -> "Location":
        protocol = url.split("://", 1)[0]
        try:
            fs, path = fsspec.core.url_to_fs(url, **options)
        except ImportError as e:
            extra = _EXTRAS.get(protocol)
            hint = f"pip install 'dataset-assets[{extra}]'" if extra else f"install the fsspec implementation for {protocol}://"
            raise ArtifactError(f"{url}: no filesystem for {protocol}:// is installed ({e}); {hint}") from e
        except ValueError as e:
            raise ArtifactError(f"{url}: not a storage URL fsspec knows ({e}); give a local path or a URL such as s3://bucket/prefix") from e
        return cls(fs, path.rstrip("/"), url.rstrip("/"))

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self.fs)

    @property
    def is_s3(self) -> bool:
        return "s3" in _protocols(self.fs)

    def child(self, *parts: str) -> "Location":
        path = posixpath.join(self.path, *parts) if not self.is_local else os.path.join(self.path, *parts)
        url = path if self.is_local else self.url + "/" + "/".join(parts)
        return Location(self.fs, path, url)

    def local_path(self) -> Path:
        if not self.is_local:
            raise ArtifactError(f"{self.url} is not on the local file system")
        return Path(self.path)

    def __str__(self) -> str:
        return self.url

    # --- small objects -------------------------------------------------------------------------

    def read_bytes(self, limit: int | None = None) -> bytes | None:
        """The whole object (at most `limit` + 1 bytes of it: the caller sees it is too large), or None when it does not exist."""
        try:
            if limit is None:
                return self.fs.cat_file(self.path)
            return self.fs.cat_file(self.path, start=0, end=limit + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def write_bytes(self, data: bytes) -> None:
        if self.is_local:  # write beside, then rename: readers never see half a file
            tmp = f"{self.path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)
        else:  # one PUT is atomic on object stores
            self.fs.pipe_file(self.path, data)

    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def list_names(self) -> list[str]:
        """Names directly below this location (files and folders); [] when there is nothing."""
        try:
            entries = self.fs.ls(self.path, detail=False, refresh=True) if not self.is_local else os.listdir(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except TypeError:  # filesystems without `refresh`
            entries = self.fs.ls(self.path, detail=False)
        return sorted({posixpath.basename(str(e).rstrip("/")) for e in entries} - {""})

    def remove(self) -> None:
        """Delete this file or folder and everything below it; missing is fine."""
        try:
            if self.is_local:
                import shutil

                if os.path.isdir(self.path) and not os.path.islink(self.path):
                    shutil.rmtree(self.path, ignore_errors=True)
                elif os.path.lexists(self.path):
                    os.unlink(self.path)
            else:
                self.fs.rm(self.path, recursive=True)
        except FileNotFoundError:
            pass
        self.invalidate()

    def invalidate(self) -> None:
        """Forget listings the filesystem has cached (s3fs caches them)."""
        invalidate = getattr(self.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate()


def _protocols(fs) -> tuple:
    p = fs.protocol
    return (p,) if isinstance(p, str) else tuple(p)
