"""Two processes saving different data to one path at the same instant (overwrite=True): afterwards both versions
are listed and complete (each loads exactly what its writer wrote), and exactly one version is current."""

import time

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import images

FMT = "npy"
KEEP = 50
RACES = 3


def test_two_processes_saving_at_once_each_leave_a_complete_version(where, workers):
    path = where("art")
    first = da.save(images(0), path, format=FMT, keep=KEEP)
    written = []
    for r in range(RACES):  # both writers start at the same instant with the same work: their commits collide
        start_at = time.time() + 0.3
        a_seed, b_seed = 10 + 2 * r, 11 + 2 * r
        a = workers.start("save_images", path=path, fmt=FMT, seed=a_seed, n=30, keep=KEEP, start_at=start_at)
        b = workers.start("save_images", path=path, fmt=FMT, seed=b_seed, n=31, keep=KEEP, start_at=start_at)
        written += [(a_seed, 30, a.wait()), (b_seed, 31, b.wait())]

    infos = da.versions(path)
    ids = [v.id for v in infos]
    assert sorted(ids) == sorted([first.version] + [w["version"] for _, _, w in written]), "a committed version is missing"
    assert len(set(ids)) == len(ids) == 1 + 2 * RACES
    current = [v.id for v in infos if v.current]
    assert len(current) == 1, current
    assert current[0] in {w["version"] for _, _, w in written[-2:]}  # one of the last race's writers
    by_id = {v.id: v for v in infos}
    for seed, n, w in written:
        assert by_id[w["version"]].fingerprint == w["fingerprint"] == da.fingerprint(images(seed, n=n))
        assert_same_elements(da.load(path, version=w["version"]), images(seed, n=n))
        report = da.verify(path, images(seed, n=n), version=w["version"])
        assert report.ok, report.problems
    assert not [n for n in util.names_under(path) if n.startswith("writers/")], "leases left after all commits"
