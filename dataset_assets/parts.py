"""One artifact written by many writers: each saves one part of a new version, one commit makes it current.

    da.save_part(my_slice, "s3://bucket/train", part=i, num_parts=n)   # on each worker, in any order
    da.commit_parts("s3://bucket/train")                                # once, after the last part

A part is a complete set of files of its format plus its part manifest (`part.json`: files,
checksums, element count, the part's fingerprint). Writing a part again (a retried task) replaces
the earlier attempt whole. The commit checks that every part is there and intact (SHA-256 of every
file, and its data read back against its fingerprint), joins them into one version in part order
(the format's `combine_parts`) and commits it like `save` does: readers see the previous version
until then, and nothing of a failed write ever becomes current. Reading every part back is what
gives the fingerprint of the whole: SHA-256 is a chain that cannot be split between writers, and
this way it equals `fingerprint()` of the parts concatenated, as a single `save` would record.
The commit therefore reads the artifact once (about as long as `load` and iterate).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from . import formats
from .api import DEFAULT_KEEP, check_keep, disk_full, prepare, write_version
from .columns import COUNT, iter_batches
from .errors import ArtifactError, StorageFullError, UnsupportedDatasetError
from .fingerprint import Fingerprinter
from .manifest import MANIFEST_NAME, FileEntry, Manifest, check_files, check_tree, max_manifest_bytes, parse_manifest, to_jsonable
from .progress import Progress
from .storage import ArtifactStore, Location, VersionInfo
from .storage.cache import cache_bytes, fetch_version
from .storage.checksums import digest_bytes
from .storage.parts import (
    PART_MANIFEST,
    check_part,
    check_write,
    close_write,
    commit_lease_name,
    drop_write,
    find_write,
    join_write,
    mark_closing,
    part_name,
    refuse_if_closing,
    touch_write,
)
from .storage.staging import fsync_tree, upload_tree
from .storage.versions import VERSIONS, WRITERS, Lease, commit_version, lease_fresh, new_staging, writer_timeout

DEFAULT_WRITE = "default"


def part_formats() -> tuple[str, ...]:
    """The formats whose parts can be joined into one version (they offer `combine_parts`)."""
    return tuple(name for name in formats.FORMATS if hasattr(formats.get(name), "combine_parts"))


def split(items: Sequence, part: int, num_parts: int) -> list:
    """Part `part` of `num_parts` contiguous, balanced slices of `items` (such as input files): concatenated in part order they are `items`."""
    check_part(part, num_parts)
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise TypeError(f"split() takes a sequence (a list or tuple, such as of file names), not {type(items).__name__}: make it a sorted list first")
    n = len(items)
    return list(items[part * n // num_parts : (part + 1) * n // num_parts])


def save_part(
    dataset,
    path,
    part: int,
    num_parts: int,
    format: str = "tfrecord",
    overwrite: bool = False,
    *,
    write: str = DEFAULT_WRITE,
    storage_options: dict | None = None,
    **format_options,
) -> Manifest:
    """Write `dataset` as part `part` (0-based) of `num_parts` of the next version of the artifact at `path`; returns the part's manifest.

    Every part of one `write` must have the same format, options, element_spec and `num_parts`.
    Parts can be written in any order, from any machine that reaches `path`; writing a part again
    replaces it. Nothing is visible to readers until `commit_parts`.
    """
    check_part(part, num_parts)
    check_write(write)
    module, spec_json, layout, options = prepare(dataset, format, format_options, "save_part()")
    if not hasattr(module, "combine_parts"):
        raise UnsupportedDatasetError(
            f"format {format!r} cannot be written in parts; {', '.join(part_formats())} can. Write the parts in one of those, "
            f"then `dataset-assets convert` the committed artifact if you need {format!r}"
        )
    options = getattr(module, "check_parts", lambda o: o)(options)
    store = ArtifactStore(Location.of(path, storage_options))
    store.check_writable(overwrite)
    store.remove_abandoned()
    opened = join_write(store, write, num_parts, module.NAME, to_jsonable(options), spec_json)
    name = part_name(part, num_parts)
    target = opened.part_location(store.root, part)
    lease = Lease(store.root, opened.id, f"{opened.id}.{name}")  # the version is alive while any part is written
    fresh = lambda lease_name: lease_fresh(store.root, lease_name)  # noqa: E731
    try:
        refuse_if_closing(store, opened, fresh)  # our lease is visible now: a commit that begins later waits for us
    except BaseException:
        lease.release()
        raise
    if store.root.is_local:  # beside the part's place, then renamed into it: a retry never mixes two attempts
        staging = Path(target.path).parent / f".{name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
    else:
        staging = new_staging(f"{opened.id}-{name}")
    started = time.perf_counter()
    try:
        manifest = write_version(module, dataset, layout, staging, options, Fingerprinter(layout), spec_json, name, started)
        (staging / PART_MANIFEST).write_bytes(manifest.to_json().encode())
        refuse_if_closing(store, opened, fresh)  # and once more before the part takes its place
        if store.root.is_local:
            fsync_tree(staging)
            target.remove()  # an earlier attempt of this part
            os.rename(staging, target.path)
        else:
            target.remove()
            upload_tree(staging, target, last=PART_MANIFEST)  # the part manifest last: a part without it is not there
        touch_write(store, opened)
    except Exception as e:  # ENOSPC as Python reports it, or as TensorFlow's writers do
        if disk_full(e) and not isinstance(e, StorageFullError):
            raise StorageFullError(errno.ENOSPC, f"the disk is full: writing part {part} of {store.root} failed ({e}); free space and write the part again") from e
        raise
    finally:
        lease.release()
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def commit_parts(path, num_parts: int | None = None, *, write: str = DEFAULT_WRITE, keep: int = DEFAULT_KEEP, storage_options: dict | None = None) -> Manifest:
    """Join the parts of `write` into one version and make it current; returns its manifest.

    Refuses, naming the parts, when a part is missing, still being written, or damaged (then
    nothing is committed: write those parts again and commit again). `num_parts`, when given,
    must be what the parts were written with.
    """
    check_keep(keep)
    check_write(write)
    store = ArtifactStore(Location.of(path, storage_options))
    opened = find_write(store, write)
    if opened is None:
        raise ArtifactError(
            f"{store.root} has no open write {write!r}: no part of it was written, or it was committed or abandoned already. "
            f"Write the parts with save_part(..., write={write!r}) first"
        )
    if num_parts is not None:
        check_part(0, num_parts)
    if num_parts is not None and num_parts != opened.num_parts:
        raise ArtifactError(f"{store.root}: write {write!r} was opened for {opened.num_parts} parts, not num_parts={num_parts}")
    started = time.perf_counter()
    lease = Lease(store.root, opened.id, commit_lease_name(opened.id))  # keeps the version alive, and part writers out
    committed = False
    try:
        mark_closing(store, opened, True)
        _refuse_busy(store, opened)
        manifest = _commit(store, opened, started)
        committed = True
    finally:
        if not committed:
            try:
                mark_closing(store, opened, False)  # the write stays open: parts can be written again
            except (ArtifactError, OSError):
                pass
        lease.release()
    close_write(store, opened)
    store.retain(keep)
    return manifest


def abandon_parts(path, *, write: str = DEFAULT_WRITE, storage_options: dict | None = None) -> bool:
    """Drop the open write `write` and every part written for it (never a committed version); True if there was one.

    For a write that will not be finished: another `num_parts`, another element_spec, a backfill
    given up. Its part writers must have stopped.
    """
    check_write(write)
    return drop_write(ArtifactStore(Location.of(path, storage_options)), write)


def _commit(store: ArtifactStore, opened, started: float) -> Manifest:
    parts = _read_part_manifests(store, opened)
    module = formats.get(opened.format)
    layout = parts[0][1].layout()
    remote = not store.root.is_local
    version = store.root.child(VERSIONS, opened.id)
    total = sum(m.total_bytes for _, m, _ in parts)
    if remote and total > cache_bytes():  # every part is fetched into the cache and read before the commit
        raise ArtifactError(
            f"{store.root}: the parts hold {total / 1e9:.2f} GB, more than the cache bound of {cache_bytes() / 1e9:.2f} GB that "
            f"the commit reads them through; raise DATASET_ASSETS_CACHE_BYTES (on a disk with room: DATASET_ASSETS_CACHE)"
        )
    if not remote:
        _refuse_linked_folders(store, opened)
    directories = [_local_part(store, opened, i, m, data) for i, (_, m, data) in enumerate(parts)]
    fingerprint, count = _fingerprint_parts(module, layout, parts, directories)
    out = new_staging(opened.id) if remote else version.local_path()
    try:
        try:
            written = module.combine_parts(out, [(name, d, m) for (name, m, _), d in zip(parts, directories)])
        except (ValueError, TypeError, KeyError) as e:
            raise ArtifactError(f"{store.root}: the parts of write {opened.write!r} cannot be joined ({type(e).__name__}: {e}); write them again") from e
        files = [FileEntry(f"{name}/{f.path}", f.bytes, f.sha256, f.crc32c) for name, m, _ in parts for f in m.files]
        for name, _, data in parts:
            d = digest_bytes(data)
            files.append(FileEntry(f"{name}/{PART_MANIFEST}", d.bytes, d.sha256, d.crc32c))
        files += [FileEntry(rel, d.bytes, d.sha256, d.crc32c) for rel, d in written.digests.items()]
        files.sort(key=lambda f: f.path)
        details = {**written.details, "parts": [{"name": n, "num_elements": m.num_elements, "fingerprint": m.fingerprint} for n, m, _ in parts]}
        part_seconds = sum(m.write_seconds for _, m, _ in parts if isinstance(m.write_seconds, (int, float)))
        manifest = Manifest(
            format=module.NAME,
            format_version=module.VERSION,
            library_version=parts[0][1].library_version,
            created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            element_spec=opened.element_spec,
            num_elements=count,
            fingerprint=fingerprint,
            options=opened.options,
            files=files,
            total_bytes=sum(f.bytes for f in files),
            details=to_jsonable(details),
            write_seconds=round(part_seconds + time.perf_counter() - started, 6),
            version=opened.id,
        )
        data = manifest.to_json().encode()
        (out / MANIFEST_NAME).write_bytes(data)
        if remote:
            upload_tree(out, version, last=MANIFEST_NAME)
        else:
            fsync_tree(out)
        info = VersionInfo(opened.id, manifest.created, manifest.fingerprint, manifest.num_elements, manifest.total_bytes, manifest.format)
        commit_version(store, info, hashlib.sha256(data).hexdigest(), opened.began_on)
    finally:
        if remote:
            shutil.rmtree(out, ignore_errors=True)
    return manifest


def _refuse_linked_folders(store: ArtifactStore, opened) -> None:
    """The version's folder and each part's are folders of the artifact, not links to elsewhere: nothing is read or written outside."""
    version = store.root.child(VERSIONS, opened.id).local_path()
    for folder in (version.parent, version, *(version / part_name(i, opened.num_parts) for i in range(opened.num_parts))):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise ArtifactError(f"{folder}: is a symbolic link or not a folder; an artifact holds plain files and folders only, refusing to follow it. Nothing was committed")


def _refuse_busy(store: ArtifactStore, opened) -> None:
    """Parts whose writer still holds a fresh lease, and debris of attempts that died (removed)."""
    prefix = f"{opened.id}.part-"
    names = [lease[: -len(".json")] for lease in store.root.child(WRITERS).list_names() if lease.startswith(prefix) and lease.endswith(".json")]
    busy = [name[len(opened.id) + 1 :] for name in names if lease_fresh(store.root, name)]
    if busy:
        raise ArtifactError(f"{store.root}: {', '.join(sorted(busy))} of write {opened.write!r} are still being written; commit when they are done")
    version = store.root.child(VERSIONS, opened.id)
    for name in version.list_names():
        if name.startswith(".part-"):  # a local attempt that died before its rename
            version.child(name).remove()


def _read_part_manifests(store: ArtifactStore, opened) -> list[tuple[str, Manifest, bytes]]:
    parts, missing = [], []
    for i in range(opened.num_parts):
        where = opened.part_location(store.root, i).child(PART_MANIFEST)
        data = where.read_bytes(limit=max_manifest_bytes())
        if data is None:
            missing.append(i)
            continue
        manifest = parse_manifest(data, str(where))
        if manifest.format != opened.format or manifest.element_spec != opened.element_spec:
            what = f"format {manifest.format!r}, not {opened.format!r}" if manifest.format != opened.format else "another element_spec"
            raise ArtifactError(f"{where}: part {i} holds {what} than write {opened.write!r} was opened with; write part {i} again")
        parts.append((part_name(i, opened.num_parts), manifest, data))
    if missing:
        listed = ", ".join(map(str, missing[:20])) + (f" (and {len(missing) - 20} more)" if len(missing) > 20 else "")
        raise ArtifactError(
            f"{store.root}: write {opened.write!r} lacks part(s) {listed} of {opened.num_parts}; write them with "
            f"save_part(..., part=i, num_parts={opened.num_parts}) and commit again. Nothing was committed (parts of a write with no "
            f"activity for {writer_timeout():.0f} s are removed as abandoned by the next save)"
        )
    return parts


def _local_part(store: ArtifactStore, opened, i: int, manifest: Manifest, data: bytes) -> Path:
    """The part's files checked (SHA-256 of each, nothing unlisted), where they can be read: in place, or fetched into the cache."""
    location = opened.part_location(store.root, i)
    if store.root.is_local:
        directory = location.local_path()
        problems = check_tree(directory, manifest, own=PART_MANIFEST) + check_files(directory, manifest, checksums=True)
    else:
        try:
            return fetch_version(location, f"{opened.id}/{location.path}:{hashlib.sha256(data).hexdigest()}", manifest.files, data).wait_all()
        except ArtifactError as e:
            problems = [str(e)]
    if problems:
        raise ArtifactError(f"part {i} of write {opened.write!r} is damaged: {problems[0]}. Write part {i} again with save_part(), then commit. Nothing was committed")
    return directory


def _fingerprint_parts(module, layout, parts, directories) -> tuple[str, int]:
    """The fingerprint of the parts concatenated, each part's own share checked against its part manifest on the way.

    A format's `stored_streams` gives the column streams straight from its files; otherwise the
    part is read back into elements (`read_stored`, or `read`) and encoded again.
    """
    whole = Fingerprinter(layout)
    progress = Progress(f"commit {len(parts)} parts", sum(m.num_elements for _, m, _ in parts))
    for i, ((_, manifest, _), directory) in enumerate(zip(parts, directories)):
        own = Fingerprinter(layout)
        try:
            if hasattr(module, "stored_streams"):
                batches = module.stored_streams(directory, manifest, layout)
            else:
                batches = iter_batches(getattr(module, "read_stored", module.read)(directory, manifest, layout), layout)
            for batch in batches:
                whole.update(batch)
                own.update(batch)
                progress.update(int(batch[COUNT]), sum(v.nbytes for v in batch.values() if hasattr(v, "nbytes")))
        except (ArtifactError, ValueError, TypeError, KeyError, tf.errors.OpError) as e:  # a damaged or hand-edited part
            message = e.message if isinstance(e, tf.errors.OpError) else str(e)
            raise ArtifactError(f"part {i} cannot be read ({type(e).__name__}: {message.splitlines()[0] if message else ''}); write part {i} again with save_part(), then commit. Nothing was committed") from e
        if own.count != manifest.num_elements:
            raise ArtifactError(f"part {i}: {own.count} elements read back, its part manifest records {manifest.num_elements}; write part {i} again with save_part(), then commit")
        if own.hexdigest() != manifest.fingerprint:
            raise ArtifactError(
                f"part {i}: its data reads back with fingerprint {own.hexdigest()}, its part manifest records {manifest.fingerprint}; "
                f"write part {i} again with save_part(), then commit. Nothing was committed"
            )
    progress.done()
    return whole.hexdigest(), whole.count
