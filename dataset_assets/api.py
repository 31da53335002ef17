"""`save`, `load`, `versions`, `read_manifest`: the calls most users need."""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from . import formats
from .columns import Layout
from .errors import ArtifactError, StorageFullError, UnsupportedDatasetError
from .fingerprint import Fingerprinter
from .limits import BoundedFingerprinter, Limits
from .loaded import LoadedDataset
from .manifest import MANIFEST_NAME, Manifest, check_files, list_files, max_manifest_bytes, parse_manifest, scan_tree, to_jsonable
from .selection import buffer_shuffle, check_seed, element_range
from .spec import spec_to_json
from .storage import ArtifactStore, Location, Resolved, VersionInfo
from .storage.cache import Arrival, fetch_version
from .version import __version__

DEFAULT_KEEP = 3


def save(
    dataset: tf.data.Dataset,
    path,
    format: str = "tfrecord",
    overwrite: bool = False,
    *,
    keep: int = DEFAULT_KEEP,
    storage_options: dict | None = None,
    max_elements: int | None = None,
    max_bytes: int | None = None,
    **format_options,
) -> Manifest:
    """Write a finite dataset as a new version of the artifact at `path` and commit it; returns its manifest.

    `path`: a local folder, an fsspec URL (`s3://bucket/prefix`, `gs://...`, `memory://...`) or a
    `upath.UPath`. Until the commit, readers see the previous version (or nothing). `keep`: how
    many committed versions to retain (older ones are deleted after the commit). `max_elements`,
    `max_bytes` (raw bytes of the elements): a source past either bound stops the save with
    `LimitExceededError`, and nothing is committed.
    """
    check_keep(keep)
    module, spec_json, layout, options = prepare(dataset, format, format_options)
    limits = Limits(max_elements, max_bytes)
    dataset = limits.apply(dataset)
    store = ArtifactStore(Location.of(path, storage_options))
    started = time.perf_counter()
    pending = store.begin(overwrite)
    fingerprinter = BoundedFingerprinter(layout, limits) if limits.active else Fingerprinter(layout)
    try:
        manifest = write_version(module, dataset, layout, pending.directory, options, fingerprinter, spec_json, pending.id, started)
        if limits.active:
            fingerprinter.check()  # where a format fingerprinted only after writing (tfdata, some specs)
        data = manifest.to_json().encode()
        (pending.directory / MANIFEST_NAME).write_bytes(data)
        info = VersionInfo(pending.id, manifest.created, manifest.fingerprint, manifest.num_elements, manifest.total_bytes, manifest.format)
        pending.commit(info, hashlib.sha256(data).hexdigest(), keep)
    except BaseException as e:
        pending.abort()  # nothing once the commit record names the version
        exceeded = getattr(fingerprinter, "exceeded", None)
        if exceeded is not None and e is not exceeded:  # raised inside TF (tfdata's tap): TF's error wraps ours
            raise exceeded from None
        if disk_full(e) and not isinstance(e, StorageFullError):
            raise StorageFullError(
                errno.ENOSPC, f"the disk is full: saving {store.root} failed ({e}); the previous version is untouched. Free space or save elsewhere"
            ) from e
        raise
    return manifest


def check_keep(keep) -> None:
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise UnsupportedDatasetError(f"keep={keep!r}: give the number of versions to retain, an int >= 1")


def prepare(dataset, format: str, format_options: dict, call: str = "save()"):
    """(format module, element_spec as JSON, layout, checked options) for saving `dataset`; refuses what cannot be saved before anything is written."""
    if not isinstance(dataset, tf.data.Dataset):
        raise UnsupportedDatasetError(f"{call} takes a tf.data.Dataset, not {type(dataset).__name__}")
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise UnsupportedDatasetError(
            "the dataset is infinite (e.g. it ends in .repeat()); save a finite part of it, such as dataset.take(n)"
        )
    module = formats.get(format)
    spec_json = spec_to_json(dataset.element_spec)  # first: its errors name the unsupported feature
    layout = Layout(dataset.element_spec)
    if not layout.columns:
        raise UnsupportedDatasetError("the dataset's elements hold no tensors; there is nothing to save")
    return module, spec_json, layout, module.check(layout, dict(format_options))


def write_version(module, dataset, layout: Layout, directory: Path, options: dict, fingerprinter, spec_json: dict, vid: str, started: float) -> Manifest:
    """Write the dataset's files into `directory` with `module`; returns the manifest that describes them (not yet written)."""
    written = module.write(dataset, layout, directory, options, fingerprinter)
    files = list_files(directory, written.digests)
    return Manifest(
        format=module.NAME,
        format_version=module.VERSION,
        library_version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        element_spec=spec_json,
        num_elements=fingerprinter.count,
        fingerprint=fingerprinter.hexdigest(),
        options=to_jsonable(options),
        files=files,
        total_bytes=sum(f.bytes for f in files),
        details=to_jsonable(written.details),
        write_seconds=round(time.perf_counter() - started, 6),
        version=vid,
    )


def disk_full(e: BaseException) -> bool:
    """ENOSPC, as Python reports it or as TensorFlow's file writers do (ResourceExhaustedError)."""
    if isinstance(e, OSError):
        return e.errno == errno.ENOSPC
    return isinstance(e, tf.errors.ResourceExhaustedError) and "No space left on device" in str(e)


@dataclass(frozen=True)
class Opened:
    """One version of an artifact, opened for reading."""

    root: Location  # the artifact
    resolved: Resolved  # which version, where
    manifest: Manifest
    directory: Path | None  # a local folder with its files (the version itself, or its copy in the cache)
    arrival: Arrival | None = None  # remote versions: the files still arriving in `directory`


def open_artifact(
    path, *, version: str | None = None, storage_options: dict | None = None, fetch: bool = True, stream: bool = False
) -> Opened:
    """Resolve the version once, read and check its manifest, and (`fetch`) make its files available locally.

    `stream`: return while a remote version's files are still arriving (`Opened.arrival` tells
    when each is there); otherwise wait until all are local and checked.
    """
    root = Location.of(path, storage_options)
    resolved = ArtifactStore(root).resolve(version)
    where = resolved.location.child(MANIFEST_NAME)
    data = where.read_bytes(limit=max_manifest_bytes())  # bounded: parse_manifest refuses anything longer
    if data is None:
        raise ArtifactError(f"{where} is missing: version {resolved.id} of {root} is incomplete or was removed")
    if len(data) > max_manifest_bytes():
        parse_manifest(data, str(where))  # refuses it, naming the bound
    if resolved.manifest_sha256 and hashlib.sha256(data).hexdigest() != resolved.manifest_sha256:
        raise ArtifactError(f"{where} does not match the digest in {root}/current.json: the manifest was changed or is damaged")
    manifest = parse_manifest(data, str(where))
    manifest.version = manifest.version or resolved.id
    module = formats.get(manifest.format)
    if manifest.format_version > module.VERSION:
        raise ArtifactError(
            f"{root} was written with {manifest.format} format version {manifest.format_version} "
            f"(library {manifest.library_version}); this library reads up to version {module.VERSION}: upgrade dataset-assets"
        )
    if root.is_local:
        directory = resolved.location.local_path()
        _refuse_links(root, directory)
        problems = check_files(directory, manifest, checksums=False)
        if problems:
            raise ArtifactError(f"{root} (version {resolved.id}) is damaged: " + "; ".join(problems) + ". Re-create it with save(), or run verify() for details")
        return Opened(root, resolved, manifest, directory)
    if not fetch:
        return Opened(root, resolved, manifest, None)
    key = f"{resolved.id}:{hashlib.sha256(data).hexdigest()}"
    arrival = fetch_version(resolved.location, key, manifest.files, data, first=getattr(module, "FETCH_FIRST", ()))
    if not stream:
        arrival.wait_all()  # every file checked against the manifest as it arrived
    return Opened(root, resolved, manifest, arrival.directory, arrival)


def _refuse_links(root: Location, directory: Path) -> None:
    """No symbolic link (nor device, pipe) anywhere in the version or on the way to it: nothing is read from outside."""
    base = root.local_path()
    for step in (base / "versions", directory, directory / MANIFEST_NAME):
        if step.is_symlink():
            raise ArtifactError(f"{step}: is a symbolic link (to {os.readlink(step)!r}); an artifact holds plain files and folders only, refusing to follow it")
    _, problems = scan_tree(directory)
    if problems:
        raise ArtifactError(f"{root} (version {directory.name}) is unsafe to read: " + "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))


def load(
    path,
    *,
    version: str | None = None,
    checked: bool = True,
    split: str | None = None,
    shard: tuple[int, int] | None = None,
    shuffle_seed: int | None = None,
    storage_options: dict | None = None,
) -> LoadedDataset:
    """The dataset saved at `path` (its current version, or `version`), same element_spec and elements.

    The version is resolved once: saves that commit later never change what this dataset yields.
    `checked`: every byte read is checked against the block checksums recorded when it was written.
    `split` (TFDS slicing, such as "[:10%]") and `shard` (`(num_shards, index)`, a contiguous block
    of the split) select elements, in order; see `dataset_assets.selection`. npy and hdf5 read only
    the selected part; the other formats read up to its end and drop what comes before.
    `shuffle_seed`: the selected elements in a random order, the same for the same seed and a new
    one on each iteration: a global shuffle in npy, hdf5, pathlist and uncompressed tfrecord, a
    shuffle buffer (`selection.buffer_shuffle`) over the saved order otherwise (docs/reading.md).
    (`dataset_assets.load`, of the recipes layer, adds `recipe=` on top of this.)
    """
    element_range(0, split, shard)  # a malformed split, shard or seed fails before anything is fetched
    shuffle_seed = check_seed(shuffle_seed)
    opened = open_artifact(path, version=version, storage_options=storage_options, stream=True)
    manifest = opened.manifest
    module = formats.get(manifest.format)
    elements = element_range(manifest.num_elements, split, shard)
    selected = len(elements) != manifest.num_elements
    shuffles = shuffle_seed is not None and getattr(module, "SHUFFLES", False)
    ranged = (selected or shuffles) and getattr(module, "RANGES", False)
    options = {"checked": checked, **({"elements": elements} if ranged else {}), **({"shuffle_seed": shuffle_seed} if shuffles else {})}
    arriving = opened.arrival is not None and not opened.arrival.done()
    if arriving and getattr(module, "STREAMS", False):  # reading starts before the last file has arrived
        dataset = module.read(opened.directory, manifest, manifest.layout(), arrival=opened.arrival, **options)
    else:
        if arriving:
            opened.arrival.wait_all()
        dataset = module.read(opened.directory, manifest, manifest.layout(), **options)
    if selected and not ranged:
        dataset = dataset.skip(elements.start).take(len(elements))
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(elements)))
    if shuffle_seed is not None and not shuffles:
        dataset = buffer_shuffle(dataset, len(elements), manifest.total_bytes * len(elements) // max(manifest.num_elements, 1), shuffle_seed)
    return LoadedDataset(dataset, opened.directory, manifest)


def read_manifest(path, *, version: str | None = None, storage_options: dict | None = None) -> Manifest:
    """The manifest of the current version of the artifact at `path` (or of `version`)."""
    return open_artifact(path, version=version, storage_options=storage_options, fetch=False).manifest


def versions(path, *, storage_options: dict | None = None) -> list[VersionInfo]:
    """The committed versions of the artifact at `path`, oldest first; `.current` marks the one `load` reads."""
    return ArtifactStore(Location.of(path, storage_options)).versions()
