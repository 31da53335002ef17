"""What every format offers: the `Format` interface, the `Written` result of a write, and option merging.

A format is a module (or package) with the members of `Format` at its top level; the registry in
`formats/__init__.py` maps each name to one. `check` refuses unsupported data *before* anything
is written; `write` stores the dataset and returns `Written`; `read` loads it back. A format may
also offer `read_stored(directory, manifest, layout)`: the elements exactly as stored, where `read`
adapts them to the artifact's location (used by `verify`); and `STREAMS = True`, when its `read`
takes `arrival=` (`storage.cache.Arrival`) and opens each file of a remote version only once it
has arrived, instead of `load` waiting for them all (`FETCH_FIRST`: the names of the files it reads
before any data, fetched before the others); and `RANGES = True`, when its `read` takes
`elements=` (a range) and reads only those elements, for `load`'s `split` and `shard` (other formats
are read up to the range's end). A format that can be written in parts by many writers
(`dataset_assets.parts`) offers `combine_parts(directory, parts)`: the details of one version
made of the parts' files, in part order (and any file of its own it writes in `directory`), and
optionally `check_parts(options)`, refusing options under which parts cannot be joined. This
module imports no format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import UnsupportedDatasetError

if TYPE_CHECKING:
    from pathlib import Path

    import tensorflow as tf

    from ..columns import Layout
    from ..fingerprint import Fingerprinter
    from ..manifest import Manifest


@dataclass
class Written:
    details: dict = field(default_factory=dict)  # goes to manifest.details
    digests: dict[str, str] = field(default_factory=dict)  # sha256 of files already hashed while writing


class Format(Protocol):
    """The interface of one format; `read_stored` is optional and looked up with getattr, so it is not listed."""

    NAME: str
    VERSION: int

    def check(self, layout: Layout, options: dict) -> dict:
        """The options merged over the defaults; raises UnsupportedDatasetError for data the format cannot hold."""
        ...

    def write(self, dataset: tf.data.Dataset, layout: Layout, directory: Path, options: dict, fingerprinter: Fingerprinter) -> Written:
        """Store the dataset in `directory`, feeding every batch to `fingerprinter` on the way."""
        ...

    def read(self, directory: Path, manifest: Manifest, layout: Layout, checked: bool = True) -> tf.data.Dataset:
        """The saved dataset, as `load` returns it; `checked`: every byte read is checked against its checksum."""
        ...


def unknown_options(name: str, options: dict, allowed: dict) -> dict:
    """Merge user options over a format's defaults, refusing names the format does not know."""
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise UnsupportedDatasetError(
            f"format {name!r} has no option {', '.join(map(repr, extra))}; its options are {', '.join(sorted(allowed)) or 'none'}"
        )
    return {**allowed, **options}
