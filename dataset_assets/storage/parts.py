"""One version written in parts by many writers: the open write that they share, and where each part goes.

    <artifact>/writers/parts-<write>.json             the open write: its version id, number of parts, format,
                                                      options and element_spec; its heartbeat is refreshed by
                                                      every part writer
    <artifact>/writers/<id>.part-00003-of-00008.json  the lease of the writer of part 3 while it writes
    <artifact>/writers/<id>.commit.json               the lease of the commit while it runs
    <artifact>/versions/<id>/part-00003-of-00008/     part 3: its data files and `part.json`, written last

The first part writer creates the open write (an atomic create-if-absent through
`commit.update_record`, so two first writers agree on one version id); the others join it and
are refused if they disagree on the format, options, element_spec or number of parts. The
commit (`dataset_assets.parts.commit_parts`) marks it closing (part writers that start then are
refused: `refuse_if_closing`), and removes it once the version is committed. An open write whose parts stopped
beating for `writer_timeout()` seconds is abandoned, and a later save removes it with its
parts (`ArtifactStore.remove_abandoned`): commit within that time of the last part.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

from ..errors import ArtifactError, UnsupportedDatasetError
from .commit import parse_json, update_record
from .location import Location
from .versions import VERSIONS, WRITERS, ArtifactStore, new_version_id

PART_MANIFEST = "part.json"
MAX_PARTS = 99_999
_WRITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def part_name(part: int, num_parts: int) -> str:
    return f"part-{part:05d}-of-{num_parts:05d}"


def check_part(part, num_parts) -> None:
    for name, value in (("num_parts", num_parts), ("part", part)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UnsupportedDatasetError(f"{name}={value!r}: give an int")
    if not 1 <= num_parts <= MAX_PARTS:
        raise UnsupportedDatasetError(f"num_parts={num_parts}: give 1 to {MAX_PARTS:,} parts")
    if not 0 <= part < num_parts:
        raise UnsupportedDatasetError(f"part={part}: the parts of num_parts={num_parts} are numbered 0 to {num_parts - 1}")


def check_write(write) -> str:
    if not isinstance(write, str) or not _WRITE_NAME.fullmatch(write):
        raise UnsupportedDatasetError(f"write={write!r}: name the write with letters, digits, '_', '.' and '-' (at most 100, not starting with '.')")
    return write


@dataclass(frozen=True)
class OpenWrite:
    """What every part of one write must agree on, and the version they all write into."""

    write: str
    id: str
    num_parts: int
    format: str
    options: dict
    element_spec: dict
    began_on: str | None  # the version that was current when the write was opened

    def part_location(self, root: Location, part: int) -> Location:
        return root.child(VERSIONS, self.id, part_name(part, self.num_parts))


def _record_name(write: str) -> str:
    return f"{WRITERS}/parts-{write}.json"


def commit_lease_name(vid: str) -> str:
    return f"{vid}.commit"


def _committed(store: ArtifactStore) -> set:
    record = store.record()
    return {v.get("id") for v in record["versions"]} if record else set()


def join_write(store: ArtifactStore, write: str, num_parts: int, format: str, options: dict, element_spec: dict) -> OpenWrite:
    """The open write `write` of this artifact, created by the first part writer; refuses a part that disagrees with it.

    An open write whose version is committed already (a commit that died before closing it) is
    replaced by a new one: a committed version is never written into.
    """
    wanted = {"num_parts": num_parts, "format": format, "options": options, "element_spec": element_spec}

    def build(doc):
        if doc is None or not isinstance(doc.get("id"), str) or doc["id"] in _committed(store):
            record = store.record()
            return {"write": write, "id": new_version_id(), **wanted, "began_on": record.get("current") if record else None, "heartbeat": time.time()}
        return {**doc, "heartbeat": time.time()}

    doc = update_record(store.root, build, _record_name(write))
    for key, value in wanted.items():
        if doc.get(key) != value:
            raise UnsupportedDatasetError(
                f"{store.root}: write {write!r} is open with {key} = {doc.get(key)!r}, and this part has {value!r}; every part of one "
                f"write must have the same {key}. Write this part with the same settings, commit the open write, or abandon it "
                f"(dataset_assets.parts.abandon_parts(path, write={write!r}))"
            )
    return _open_write(store, doc)


def refuse_if_closing(store: ArtifactStore, write: OpenWrite, fresh) -> None:
    """A part writer's check, once its lease is visible: no commit of its write has begun (`fresh(lease name)`: alive or not).

    The commit marks the write closing before it looks for part leases, and a part writer takes its
    lease before it looks for the mark: whichever comes second sees the other, so a part is never
    renamed into a version a commit is reading or has committed.
    """
    doc = _read(store, write.write)
    closing = doc is not None and doc.get("id") == write.id and doc.get("closing") and fresh(commit_lease_name(write.id))
    if closing or write.id in _committed(store):
        raise ArtifactError(
            f"{store.root}: write {write.write!r} (version {write.id}) is being committed or was committed while this part was written; "
            f"nothing of this part was kept. Write it again to start the next write"
        )


def mark_closing(store: ArtifactStore, write: OpenWrite, closing: bool) -> None:
    """Mark the open write as being committed (or no longer, after a commit that refused)."""

    def build(doc):
        if doc is None or doc.get("id") != write.id:
            raise ArtifactError(f"{store.root}/{_record_name(write.write)} changed while it was being committed; commit again")
        return {**doc, "closing": closing}

    update_record(store.root, build, _record_name(write.write))


def find_write(store: ArtifactStore, write: str) -> OpenWrite | None:
    """The open write `write`, or None (also when its version is committed already: a commit that died before closing it)."""
    doc = _read(store, write)
    if doc is None:
        return None
    opened = _open_write(store, doc)
    return None if opened.id in _committed(store) else opened


def touch_write(store: ArtifactStore, write: OpenWrite) -> None:
    """Refresh the open write's heartbeat: a part has just been written."""
    update_record(store.root, lambda doc: {**(doc or asdict(write)), "heartbeat": time.time()}, _record_name(write.write))


def close_write(store: ArtifactStore, write: OpenWrite) -> None:
    store.root.child(*_record_name(write.write).split("/")).remove()


def drop_write(store: ArtifactStore, write: str) -> bool:
    """Remove the open write `write` (damaged or not) and its uncommitted version; True if there was one."""
    where = store.root.child(*_record_name(write).split("/"))
    if where.read_bytes(limit=0) is None:
        return False
    try:
        vid = (_read(store, write) or {}).get("id")
    except ArtifactError:  # not even JSON: nothing names a version to remove
        vid = None
    if _is_version_id(vid) and vid not in _committed(store):
        store.root.child(VERSIONS, vid).remove()
    where.remove()
    return True


def _read(store: ArtifactStore, write: str) -> dict | None:
    where = store.root.child(*_record_name(write).split("/"))
    try:
        return parse_json(where, where.read_bytes(limit=1 << 20))
    except ArtifactError as e:
        raise ArtifactError(f"{e}. Abandon the open write (dataset_assets.parts.abandon_parts) and write the parts again") from None


def _is_version_id(vid) -> bool:
    """A name of one folder below versions/ (never a path out of it)."""
    return isinstance(vid, str) and bool(vid) and "/" not in vid and "\\" not in vid and not vid.startswith(".")


def _open_write(store: ArtifactStore, doc: dict) -> OpenWrite:
    where = f"{store.root}/{_record_name(str(doc.get('write')))}"
    vid, num_parts = doc.get("id"), doc.get("num_parts")
    problem = None
    if not _is_version_id(vid):
        problem = f"its version id {vid!r} is not one"
    elif isinstance(num_parts, bool) or not isinstance(num_parts, int) or not 1 <= num_parts <= MAX_PARTS:
        problem = f"num_parts {num_parts!r} is not an int from 1 to {MAX_PARTS:,}"
    elif not isinstance(doc.get("format"), str) or not isinstance(doc.get("options"), dict) or not isinstance(doc.get("element_spec"), dict):
        problem = "its format, options or element_spec are missing or not what they must be"
    if problem:
        raise ArtifactError(f"{where} is damaged: {problem}. Abandon it (dataset_assets.parts.abandon_parts) and write the parts again")
    began = doc.get("began_on")
    return OpenWrite(str(doc.get("write")), vid, num_parts, doc["format"], doc["options"], doc["element_spec"], began if isinstance(began, str) else None)
