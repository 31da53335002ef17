"""`verify`: the full check of an artifact, reported rather than raised."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from .columns import COUNT, Layout, batch_size_for, iter_batches
from .errors import DatasetAssetsError
from .fingerprint import Fingerprinter
from .progress import Progress
from .spec import unnamed


@dataclass
class VerifyReport:
    path: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    format: str | None = None
    num_elements: int | None = None
    fingerprint: str | None = None
    files_checked: int = 0
    version: str | None = None

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)

    def __str__(self) -> str:
        head = f"{self.path}: {'OK' if self.ok else 'FAILED'}"
        return "\n".join([head] + [f"  - {p}" for p in self.problems])


def verify(path, dataset: tf.data.Dataset | None = None, *, version: str | None = None, storage_options: dict | None = None) -> VerifyReport:
    """Check every file's SHA-256, read every element back and (given `dataset`) compare them one by one.

    Checks the current version, or `version`. Never raises for a bad artifact: every problem
    found is in `report.problems`, and so is any error no check foresaw (a bug, reported so the
    artifact is not taken for good). Files in the version that the manifest does not list are
    problems too.
    """
    report = VerifyReport(str(path))
    try:
        _verify(report, path, dataset, version, storage_options)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001 - verify reports, it does not raise
        report.fail(f"checking the artifact failed unexpectedly: {type(e).__name__}: {str(e).splitlines()[0][:500] if str(e) else ''}")
    return report


def _verify(report: VerifyReport, path, dataset, version, storage_options) -> None:
    from . import formats
    from .api import open_artifact
    from .manifest import check_files, check_tree

    try:
        opened = open_artifact(path, version=version, storage_options=storage_options)
    except DatasetAssetsError as e:
        report.fail(str(e))
        return
    manifest, directory = opened.manifest, opened.directory
    report.path = str(opened.root)
    report.version = opened.resolved.id
    report.format, report.num_elements, report.fingerprint = manifest.format, manifest.num_elements, manifest.fingerprint
    report.files_checked = len(manifest.files)
    if opened.root.is_local:  # a remote version's view holds the listed files only
        for problem in check_tree(directory, manifest):
            report.fail(problem)
    for problem in check_files(directory, manifest, checksums=True):
        report.fail(problem)
    if not report.ok:
        return
    try:
        layout = manifest.layout()
        module = formats.get(manifest.format)
        # a format whose `read` adapts data to where the artifact lives (pathlist's copied files)
        # offers `read_stored`: the elements exactly as stored and fingerprinted
        loaded = getattr(module, "read_stored", module.read)(directory, manifest, layout)
        _check_spec(report, "the artifact as loaded", loaded.element_spec, layout.element_spec)
        if dataset is not None:
            _check_spec(report, "the reference dataset", dataset.element_spec, layout.element_spec)
        if report.ok:
            _compare(report, layout, loaded, dataset, manifest)
    except (tf.errors.OpError, DatasetAssetsError, ValueError, TypeError, OSError, KeyError, IndexError, RecursionError) as e:
        first = str(e).splitlines()[0][:500] if str(e) else ""
        report.fail(f"{directory}: reading the {manifest.format} data failed: {type(e).__name__}: {first}")


def _check_spec(report: VerifyReport, what: str, actual, expected) -> None:
    if unnamed(actual) != unnamed(expected):
        report.fail(f"element_spec of {what} is {actual}, the manifest records {expected}")


def _compare(report, layout: Layout, loaded, reference, manifest) -> None:
    fp_loaded = Fingerprinter(layout)
    fp_ref = Fingerprinter(layout) if reference is not None else None
    size = batch_size_for(layout, dataset=loaded)  # one batch size for both: their batches then differ in count only where one ends
    ref_iter = iter_batches(reference, layout, size) if reference is not None else None
    seen = 0
    progress = Progress(f"verify {report.path.rstrip('/').rsplit('/', 1)[-1]}", manifest.num_elements)
    try:
        for batch in iter_batches(loaded, layout, size):
            fp_loaded.update(batch)
            progress.update(int(batch[COUNT]), sum(a.nbytes for a in batch.values()))
            if ref_iter is not None:
                ref = next(ref_iter, None)
                if ref is None:
                    report.fail(f"the artifact holds more elements than the reference dataset ({seen} + more)")
                    return
                fp_ref.update(ref)
                if int(ref[COUNT]) != int(batch[COUNT]):  # one of the two ends within this batch: count the reference's rest
                    total = seen + int(ref[COUNT]) + sum(int(rest[COUNT]) for rest in ref_iter)
                    report.fail(f"the reference dataset has {total} elements, the artifact {manifest.num_elements}")
                    return
                where = _first_difference(layout, batch, ref)
                if where is not None:
                    report.fail(f"element {seen + where[0]} differs from the reference in {where[1]!r}")
                    return
            seen += int(batch[COUNT])
    finally:
        progress.done()
    if ref_iter is not None:
        for rest in ref_iter:
            fp_ref.update(rest)
        if fp_ref.count != seen:
            report.fail(f"the reference dataset has {fp_ref.count} elements, the artifact {seen}")
        if fp_ref.hexdigest() != manifest.fingerprint:
            report.fail(f"the reference dataset's fingerprint {fp_ref.hexdigest()} differs from the manifest's {manifest.fingerprint}")
    if seen != manifest.num_elements:
        report.fail(f"the artifact yields {seen} elements, the manifest records {manifest.num_elements}")
    elif fp_loaded.hexdigest() != manifest.fingerprint:
        report.fail(f"the data read back has fingerprint {fp_loaded.hexdigest()}, the manifest records {manifest.fingerprint}")


def _first_difference(layout: Layout, a: dict, b: dict) -> tuple[int, str] | None:
    """(index within the batch, column name) of the first differing element of two batches of one count; bitwise, so NaN equals NaN."""
    for col, stream in layout.stream_keys():
        x, y = a[col.key(stream)], b[col.key(stream)]
        if x.shape == y.shape and x.tobytes() == y.tobytes():
            continue
        if stream == "values" and col.fixed and not col.is_string and x.shape == y.shape:
            rows = np.flatnonzero((x.reshape(len(x), -1).view(np.uint8) != y.reshape(len(y), -1).view(np.uint8)).any(axis=1))
            return (int(rows[0]) if len(rows) else 0, col.name)
        return (0, col.name)  # variable-size stream: the batch is the finest place cheaply known
    return None
