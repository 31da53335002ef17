"""The commit record `current.json`: replaced in one atomic step, never lost to a concurrent committer.

A commit reads the record, builds the next one from it, and writes it back only if nobody
else wrote it meanwhile, retrying otherwise, so two writers that commit at the same moment
both end up in the record's list of versions and exactly one of them is current:

- local disk: an exclusive `flock` around read-modify-replace (`os.replace` is atomic);
- S3: a conditional PUT (`If-Match` the ETag that was read, `If-None-Match: *` for the first
  commit); a `412 Precondition Failed` means another writer won, so read again and retry;
- other stores: read, write, and read back; a concurrent committer there can be lost, which
  `docs/storage.md` says.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from typing import Callable

from ..errors import ArtifactError
from .location import Location

log = logging.getLogger("dataset_assets")
RECORD = "current.json"
_RETRIES = 20


def read_record(root: Location) -> dict | None:
    return _parse_commit(root.child(RECORD), root.child(RECORD).read_bytes())


def parse_json(where: Location, data: bytes | None) -> dict | None:
    """A record's JSON object, or None for no record; ArtifactError for anything else."""
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ArtifactError(f"{where}: the record is not valid JSON ({e}); the artifact's history is damaged") from e
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where}: the record is not a JSON object; the artifact's history is damaged")
    return doc


def _parse_commit(where: Location, data: bytes | None) -> dict | None:
    doc = parse_json(where, data)
    if doc is not None and (not isinstance(doc.get("current"), str) or not isinstance(doc.get("versions"), list)):
        raise ArtifactError(f"{where}: the commit record lacks 'current' or 'versions'; the artifact's history is damaged")
    return doc


def update_record(root: Location, build: Callable[[dict | None], dict], name: str = RECORD) -> dict:
    """Replace the record `name` below `root` (the commit record by default) with `build(what it holds now)`, atomically.

    Returns what was written. Other records (the open write of parts, `storage.parts`) use the
    same read-modify-write, so concurrent writers of those are never lost either.
    """
    record = root.child(*name.split("/"))
    parse = _parse_commit if name == RECORD else parse_json
    if root.is_local:
        return _update_local(root, record, build, parse)
    if root.is_s3:
        return _update_s3(record, build, parse)
    new = build(parse(record, record.read_bytes()))
    record.write_bytes(_dump(new))
    return new


def _dump(doc: dict) -> bytes:
    return json.dumps(doc, indent=2).encode()


def _update_local(root: Location, record: Location, build, parse) -> dict:
    import fcntl

    os.makedirs(root.path, exist_ok=True)
    with open(os.path.join(root.path, ".commit.lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            new = build(parse(record, record.read_bytes()))
            record.write_bytes(_dump(new))
            with contextlib.suppress(OSError):
                fd = os.open(root.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return new


def _update_s3(record: Location, build, parse) -> dict:
    fs = record.fs
    bucket, key, _ = fs.split_path(record.path)
    for attempt in range(_RETRIES):
        # the ETag first, then the body: if the record changes in between, the PUT below
        # (conditional on the older ETag) fails and we read again, so no commit is built on a stale record
        try:
            etag = fs.call_s3("head_object", Bucket=bucket, Key=key)["ETag"]
            body = fs.cat_file(record.path)
        except FileNotFoundError:
            etag, body = None, None
        new = build(parse(record, body))
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            fs.call_s3("put_object", Bucket=bucket, Key=key, Body=_dump(new), **condition)
            fs.invalidate_cache(record.path)
            return new
        except OSError as e:
            if not _is_conflict(e):
                raise
            log.warning("%s: another writer committed at the same time; retrying the commit on top of its version", record)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise ArtifactError(f"{record}: could not commit after {_RETRIES} attempts: other writers keep committing; try again")


def _is_conflict(error: OSError) -> bool:
    """A 412 (the record changed since it was read) or 409 (a concurrent conditional write) from S3.

    s3fs maps both to OSError(EINVAL) or FileExistsError; the botocore error it wraps has the code."""
    code = getattr(error.__cause__, "response", {}).get("Error", {}).get("Code", "")
    return code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409") or isinstance(error, FileExistsError)
