"""A reader is pinned to the version it was opened on: other processes committing new versions (overwrite=True)
before, during and after its iteration never change what it yields, in every format."""

import time

import pytest

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import FORMATS, element_bytes, elements, images

ROUNDS = 3  # writer processes committing while the reader iterates
KEEP = 50  # retention never removes the reader's version here


def _take(iterator, k: int) -> list:
    return [element_bytes(next(iterator)) for _ in range(k)]


def check_pinned(workers, path: str, fmt: str, n_old: int, n_new: int) -> None:
    """Open a reader on a version of `n_old` elements; ROUNDS writer processes commit versions of ~`n_new` elements
    while it iterates (before, during and after each commit)."""
    da.save(images(0, n=n_old), path, format=fmt, keep=KEEP)
    expected = elements(images(0, n=n_old))
    unstarted = da.load(path)  # opened now, iterated only after all the commits
    dataset = da.load(path)
    iterator = iter(dataset)
    got = _take(iterator, 5)
    written = []
    for r in range(ROUNDS):
        seed, n = r + 1, n_new + 5 * r
        writer = workers.start("save_images", path=path, fmt=fmt, seed=seed, n=n, delay=0.004, keep=KEEP, overwrite=True)
        during = 0
        while writer.alive() and during < 6:  # iterate while the other process writes and commits
            got += _take(iterator, 1)
            during += 1
            time.sleep(0.03)
        written.append((seed, n, writer.wait()))
        assert da.versions(path)[-1].id == written[-1][2]["version"]  # that commit happened while we iterate
        got += _take(iterator, 3)  # after the commit
    got += [element_bytes(e) for e in iterator]
    util.assert_elements_equal(got, expected, f"{fmt} reader iterating across {ROUNDS} commits")
    util.assert_elements_equal(elements(dataset), expected, f"{fmt} reader iterated again after the commits")
    util.assert_elements_equal(elements(unstarted), expected, f"{fmt} dataset loaded before the commits")

    infos = da.versions(path)
    assert [v.id for v in infos][1:] == [w["version"] for _, _, w in written]
    assert [v.current for v in infos] == [False] * ROUNDS + [True]
    seed, n, _ = written[-1]
    assert_same_elements(da.load(path), images(seed, n=n))  # a new load sees the newest commit


@pytest.mark.parametrize("fmt", FORMATS)
def test_reader_on_local_disk_is_pinned_while_other_processes_commit(workers, tmp_path, fmt):
    check_pinned(workers, str(tmp_path / "art"), fmt, n_old=100, n_new=25)


def test_reader_on_s3_is_pinned_while_other_processes_commit(workers, bucket):
    # pathlist: one object per element, fetched into the local cache while other processes upload new versions
    check_pinned(workers, f"s3://{bucket}/art", "pathlist", n_old=40, n_new=12)


def test_reader_is_pinned_while_a_fresh_interpreter_commits(tmp_path, fresh_writer, job_env):
    # the writer shares nothing with this process (no fork server): a plain `python -c`, run to completion
    path = str(tmp_path / "art")
    da.save(images(0, n=80), path, format="pathlist", keep=KEEP)
    dataset = da.load(path)
    iterator = iter(dataset)
    got = _take(iterator, 10)
    result = fresh_writer.run("save_images", job_env, path=path, fmt="pathlist", seed=7, n=80, keep=KEEP, overwrite=True)
    got += [element_bytes(e) for e in iterator]
    util.assert_elements_equal(got, elements(images(0, n=80)), "pathlist reader")
    infos = da.versions(path)
    assert len(infos) == 2 and infos[-1].id == result["version"] and infos[-1].current
    assert_same_elements(da.load(path), images(7, n=80))
