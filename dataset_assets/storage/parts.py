"""One version written in parts by many writers: the open write that they share, and where each part goes.

    <artifact>/writers/parts-<write>.json             the open write: its version id, number of parts, format,
                                                      options and element_spec; its heartbeat is refreshed by
                                                      every part writer
    <artifact>/writers/<id>.part-00003.json           the lease of the writer of part 3 while it writes
    <artifact>/versions/<id>/part-00003-of-00008/     part 3: its data files and `part.json`, written last

The first part writer creates the open write (an atomic create-if-absent through
`commit.update_record`, so two first writers agree on one version id); the others join it and
are refused if they disagree on the format, options, element_spec or number of parts. The
commit (`dataset_assets.parts.commit_parts`) closes it. An open write whose parts stopped
beating for `writer_timeout()` seconds is abandoned, and a later save removes it with its
parts (`ArtifactStore.remove_abandoned`): commit within that time of the last part.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass

from ..errors import ArtifactError, UnsupportedDatasetError
from .commit import update_record
from .location import Location
from .versions import VERSIONS, WRITERS, ArtifactStore, new_version_id

PART_MANIFEST = "part.json"
_WRITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def part_name(part: int, num_parts: int) -> str:
    return f"part-{part:05d}-of-{num_parts:05d}"


def check_part(part, num_parts) -> None:
    for name, value in (("num_parts", num_parts), ("part", part)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UnsupportedDatasetError(f"{name}={value!r}: give an int")
    if not 1 <= num_parts <= 99_999:
        raise UnsupportedDatasetError(f"num_parts={num_parts}: give 1 to 99,999 parts")
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


def join_write(store: ArtifactStore, write: str, num_parts: int, format: str, options: dict, element_spec: dict) -> OpenWrite:
    """The open write `write` of this artifact, created by the first part writer; refuses a part that disagrees with it."""
    wanted = {"num_parts": num_parts, "format": format, "options": options, "element_spec": element_spec}

    def build(doc):
        if doc is None or not doc.get("id"):
            record = store.record()
            return {"write": write, "id": new_version_id(), **wanted, "began_on": record.get("current") if record else None, "heartbeat": time.time()}
        return {**doc, "heartbeat": time.time()}

    doc = update_record(store.root, build, _record_name(write))
    for key, value in wanted.items():
        if doc.get(key) != value:
            raise UnsupportedDatasetError(
                f"{store.root}: write {write!r} is open with {key} = {doc.get(key)!r}, and this part has {value!r}; every part of one "
                f"write must have the same {key}. Write this part with the same settings, or commit or abandon the open write first"
            )
    return _open_write(store, doc)


def find_write(store: ArtifactStore, write: str) -> OpenWrite | None:
    doc = store.root.child(*_record_name(write).split("/")).read_bytes()
    if doc is None:
        return None
    try:
        return _open_write(store, json.loads(doc))
    except (ValueError, TypeError, KeyError) as e:
        raise ArtifactError(f"{store.root}/{_record_name(write)} is not a readable open write ({e}); write the parts again") from e


def touch_write(store: ArtifactStore, write: OpenWrite) -> None:
    """Refresh the open write's heartbeat: a part has just been written."""
    update_record(store.root, lambda doc: {**(doc or asdict(write)), "heartbeat": time.time()}, _record_name(write.write))


def close_write(store: ArtifactStore, write: OpenWrite) -> None:
    store.root.child(*_record_name(write.write).split("/")).remove()


def _open_write(store: ArtifactStore, doc: dict) -> OpenWrite:
    from .versions import check_id

    check_id(store.root, doc["id"])
    return OpenWrite(
        str(doc["write"]), str(doc["id"]), int(doc["num_parts"]), str(doc["format"]), dict(doc["options"]), dict(doc["element_spec"]), doc.get("began_on")
    )
