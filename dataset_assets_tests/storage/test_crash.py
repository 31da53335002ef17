"""SIGKILL in the middle of a save, to local disk and to the S3 server: the previous version stays current and
loads identical; once the dead writer's lease is older than DATASET_ASSETS_WRITER_TIMEOUT, a later save removes
its debris (version folder and lease), leaving only committed versions; a writer that is alive all along (its
heartbeat keeps its lease fresh) is left alone by that clean-up, however long it runs."""

import signal
import time

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import WRITER_TIMEOUT, images, uncommitted, wait_until_writing

FMT = "npy"
TIMEOUT = float(WRITER_TIMEOUT)


def test_sigkill_mid_save_keeps_the_previous_version_and_a_later_save_removes_only_the_dead_writers_debris(where, workers, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", WRITER_TIMEOUT)  # this process judges abandoned writers too
    path = where("art")
    old = da.save(images(1), path, format=FMT)

    doomed = workers.start("save_images", path=path, fmt=FMT, seed=2, n=3000, delay=0.005, overwrite=True)  # ~15 s if left alone
    wait_until_writing(doomed, path, {old.version})
    time.sleep(0.3)  # well inside the save
    assert doomed.alive(), "the slow writer finished before it could be killed"
    assert doomed.kill() == -signal.SIGKILL
    killed = time.monotonic()
    debris = uncommitted(path, {old.version})
    assert debris, "a writer killed mid-save left nothing behind? (it should have a lease at least)"

    # the previous version is still the current one, intact
    infos = da.versions(path)
    assert [(v.id, v.current) for v in infos] == [(old.version, True)]
    assert da.read_manifest(path).version == old.version
    assert_same_elements(da.load(path), images(1))
    report = da.verify(path, images(1))
    assert report.ok, report.problems

    # a live writer, started now: by the time of the clean-up its lease was written more than the timeout ago
    live = workers.start("save_images", path=path, fmt=FMT, seed=4, n=400, delay=0.01, overwrite=True)  # >= 4 s
    seen = wait_until_writing(live, path, {old.version}, ignore=debris)
    time.sleep(max(0.0, killed + TIMEOUT + 0.8 - time.monotonic()))  # the dead writer's lease is stale now

    new = da.save(images(3), path, format=FMT, overwrite=True)  # removes abandoned writers' debris
    names = util.names_under(path)
    assert not debris & names, f"debris of the killed writer is still there: {sorted(debris & names)}"
    assert live.alive(), "the live writer finished before the clean-up: this test proves nothing (make it slower)"
    lost = {n for n in seen if n.startswith("writers/")} - names
    assert not lost, f"the clean-up removed the lease of a live writer: {sorted(lost)}"
    result = live.wait()  # and it commits fine

    committed = [v.id for v in da.versions(path)]
    assert committed == [old.version, new.version, result["version"]]
    assert sum(v.current for v in da.versions(path)) == 1
    assert not [n for n in util.names_under(path) if n.startswith("writers/")], "leases left after all commits"
    assert util.children(util.join(path, "versions")) == set(committed)  # only committed versions remain
    assert util.children(where.base) == {"art"}  # and nothing beside the artifact either
    assert_same_elements(da.load(path, version=old.version), images(1))
    assert_same_elements(da.load(path, version=new.version), images(3))
    assert_same_elements(da.load(path, version=result["version"]), images(4, n=400))
