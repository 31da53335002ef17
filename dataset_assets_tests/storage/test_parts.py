"""One version written in parts (`save_part`) by several writers and committed once (`commit_parts`), on local disk
and on the S3 server: the committed whole equals a single-writer save of the parts concatenated; a missing, damaged
or unfinished part stops the commit and names the part; a retried part replaces its earlier attempt whole; a writer
killed mid-part leaves the current version as it was."""

import json
import signal
import time

import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.errors import ArtifactError, ArtifactExistsError, UnsupportedDatasetError
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import WRITER_TIMEOUT, images, nested

PARTS = 3


def slices(dataset: tf.data.Dataset, n: int, num_parts: int) -> list[tf.data.Dataset]:
    """`dataset` cut into `num_parts` contiguous slices of n // num_parts (or one more) elements."""
    bounds = [i * n // num_parts for i in range(num_parts + 1)]
    return [dataset.skip(a).take(b - a) for a, b in zip(bounds, bounds[1:])]


def parts_dir(path, version: str) -> set[str]:
    return {n.split("/")[2] for n in util.names_under(path) if n.startswith(f"versions/{version}/") and n.count("/") >= 3}


def test_parts_written_in_any_order_commit_to_the_single_writer_version(where):
    path, single = where("art"), where("single")
    whole = nested(5, n=50)
    expected = da.save(whole, single, format="tfrecord")
    for i in (2, 0, 1):  # any order
        part = da.save_part(slices(whole, 50, PARTS)[i], path, part=i, num_parts=PARTS)
        assert part.num_elements == len(list(slices(whole, 50, PARTS)[i]))
    assert da.versions(path) == [], "parts are visible before the commit"

    manifest = da.commit_parts(path, num_parts=PARTS)
    assert manifest.fingerprint == expected.fingerprint == da.fingerprint(whole)
    assert manifest.num_elements == 50 and manifest.element_spec == expected.element_spec
    assert [v.id for v in da.versions(path) if v.current] == [manifest.version]
    assert_same_elements(da.load(path), whole)
    report = da.verify(path, whole)
    assert report.ok, report.problems
    assert parts_dir(path, manifest.version) == {f"part-0000{i}-of-00003" for i in range(PARTS)}
    assert not [n for n in util.names_under(path) if n.startswith("writers/")], "leases or the open write left after the commit"
    # random access, slices and a global shuffle read across the parts' files
    art = da.open(path)
    assert util.element_bytes(art[49]) == util.elements(whole)[49]
    assert util.elements(da.load(path, split="[15:20]")) == util.elements(whole)[15:20]
    shuffled = util.elements(da.load(path, shuffle_seed=3))
    assert sorted(map(repr, shuffled)) == sorted(map(repr, util.elements(whole)))


def test_the_previous_version_stays_current_until_the_commit(where):
    path = where("art")
    old = da.save(images(1), path, format="tfrecord")
    for i, part in enumerate(slices(images(2), 40, 2)):
        da.save_part(part, path, part=i, num_parts=2, overwrite=True)
        assert da.read_manifest(path).version == old.version
        assert_same_elements(da.load(path), images(1))
    new = da.commit_parts(path)
    assert [v.id for v in da.versions(path)] == [old.version, new.version]
    assert_same_elements(da.load(path), images(2))
    assert_same_elements(da.load(path, version=old.version), images(1))


def test_a_missing_part_stops_the_commit_and_is_named(where):
    path = where("art")
    old = da.save(images(1), path, format="tfrecord")
    pieces = slices(images(2), 40, 4)
    for i in (0, 2):
        da.save_part(pieces[i], path, part=i, num_parts=4, overwrite=True)
    with pytest.raises(ArtifactError, match=r"lacks part\(s\) 1, 3 of 4.*Nothing was committed"):
        da.commit_parts(path)
    assert [(v.id, v.current) for v in da.versions(path)] == [(old.version, True)]
    for i in (1, 3):  # the write stays open: the missing parts are written, then the commit goes through
        da.save_part(pieces[i], path, part=i, num_parts=4, overwrite=True)
    assert da.commit_parts(path).fingerprint == da.fingerprint(images(2))


def test_a_damaged_part_stops_the_commit_names_the_part_and_a_rewrite_mends_it(where):
    path = where("art")
    pieces = slices(images(3), 40, 2)
    written = [da.save_part(p, path, part=i, num_parts=2) for i, p in enumerate(pieces)]
    shard = next(f.path for f in written[1].files if f.path.endswith(".tfrecord"))
    version = json.loads(util.read_bytes(util.join(path, "writers", "parts-default.json")))["id"]
    util.flip_byte(util.join(path, "versions", version, "part-00001-of-00002", shard))
    with pytest.raises(ArtifactError, match=r"part 1 of write 'default' is damaged: .*part-00001-of-00002.*Write part 1 again"):
        da.commit_parts(path)
    assert da.versions(path) == []
    da.save_part(pieces[1], path, part=1, num_parts=2)
    manifest = da.commit_parts(path)
    assert manifest.fingerprint == da.fingerprint(images(3))
    assert da.verify(path, images(3)).ok


def test_a_part_whose_data_does_not_match_its_fingerprint_is_refused(tmp_path):
    path = tmp_path / "art"
    for i, p in enumerate(slices(images(3), 40, 2)):
        da.save_part(p, path, part=i, num_parts=2)
    version = json.loads((path / "writers" / "parts-default.json").read_text())["id"]
    part = path / "versions" / version / "part-00000-of-00002" / "part.json"
    doc = json.loads(part.read_text())
    doc["fingerprint"] = "sha256:" + "0" * 64  # the files are intact; what the part claims is not
    part.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match=r"part 0: its data reads back with fingerprint .* its part manifest records sha256:0+"):
        da.commit_parts(path)


def test_a_retried_part_replaces_the_earlier_attempt_whole(where):
    path = where("art")
    pieces = slices(images(4, n=60), 60, 2)
    da.save_part(pieces[0], path, part=0, num_parts=2, shard_bytes=4096)
    da.save_part(images(9, n=500), path, part=1, num_parts=2, shard_bytes=4096)  # a wrong first attempt, in more files
    da.save_part(pieces[1], path, part=1, num_parts=2, shard_bytes=4096)  # the retry
    manifest = da.commit_parts(path)
    assert manifest.fingerprint == da.fingerprint(images(4, n=60))
    report = da.verify(path, images(4, n=60))  # also: no file of the first attempt is left unlisted
    assert report.ok, report.problems
    assert not [n for n in util.names_under(path) if "/." in n], "a staging folder of an attempt is left"


def test_parts_that_disagree_are_refused_before_writing(tmp_path):
    path = tmp_path / "art"
    da.save_part(images(1), path, part=0, num_parts=2)
    with pytest.raises(UnsupportedDatasetError, match="num_parts = 2, and this part has 3"):
        da.save_part(images(1), path, part=1, num_parts=3)
    with pytest.raises(UnsupportedDatasetError, match="element_spec"):
        da.save_part(nested(1), path, part=1, num_parts=2)
    with pytest.raises(UnsupportedDatasetError, match="options"):
        da.save_part(images(1), path, part=1, num_parts=2, compression="GZIP")
    # another write of the same artifact, under its own name, is independent
    da.save_part(nested(1), path, part=0, num_parts=1, write="other")
    with pytest.raises(ArtifactError, match="write 'default' lacks part\\(s\\) 1 of 2"):
        da.commit_parts(path)
    assert da.commit_parts(path, write="other").fingerprint == da.fingerprint(nested(1))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p: da.save_part(images(1), p, part=0, num_parts=2, format="npy"), UnsupportedDatasetError, "format 'npy' cannot be written in parts; tfrecord can"),
        (lambda p: da.save_part(images(1), p, part=0, num_parts=2, num_shards=2), UnsupportedDatasetError, "num_shards=2 spreads blocks round-robin"),
        (lambda p: da.save_part(images(1), p, part=2, num_parts=2), UnsupportedDatasetError, "numbered 0 to 1"),
        (lambda p: da.save_part(images(1), p, part=0, num_parts=True), UnsupportedDatasetError, "num_parts=True: give an int"),
        (lambda p: da.save_part(images(1), p, part=0, num_parts=1, write="../x"), UnsupportedDatasetError, "name the write"),
        (lambda p: da.save_part(images(1).repeat(), p, part=0, num_parts=1), UnsupportedDatasetError, "infinite"),
        (lambda p: da.commit_parts(p), ArtifactError, "has no open write 'default'"),
    ],
    ids=["format", "num_shards", "part", "num_parts", "write", "infinite", "nothing-written"],
)
def test_bad_calls_say_what_to_do(tmp_path, call, error, message):
    with pytest.raises(error, match=message):
        call(tmp_path / "art")
    assert not (tmp_path / "art" / "versions").exists() or not any((tmp_path / "art" / "versions").iterdir())


def test_an_existing_artifact_needs_overwrite_and_a_commit_closes_the_write(tmp_path):
    path = tmp_path / "art"
    da.save(images(1), path, format="tfrecord")
    with pytest.raises(ArtifactExistsError, match="overwrite=True"):
        da.save_part(images(2), path, part=0, num_parts=1)
    da.save_part(images(2), path, part=0, num_parts=1, overwrite=True)
    da.commit_parts(path, num_parts=1)
    with pytest.raises(ArtifactError, match="no open write"):
        da.commit_parts(path)  # committed already: a second commit has nothing to commit


def test_an_abandoned_write_is_removed_by_a_later_save(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", "0.5")
    path = tmp_path / "art"
    da.save(images(1), path, format="tfrecord")
    da.save_part(images(2), path, part=0, num_parts=2, overwrite=True)  # and never committed
    time.sleep(0.8)
    kept = da.save(images(3), path, format="tfrecord", overwrite=True)
    assert {p.name for p in (path / "versions").iterdir()} == {v.id for v in da.versions(path)}
    assert not (path / "writers").exists() or not list((path / "writers").iterdir())
    assert da.read_manifest(path).version == kept.version


def test_a_part_writer_killed_midway_leaves_the_current_version_and_only_its_part_is_rewritten(where, workers, monkeypatch):
    # a long writer timeout until the kill: on a loaded machine the slow writer may start more than the short
    # one after part 0 has finished, and would rightly judge the open write abandoned (the default is 900 s)
    patient = {"DATASET_ASSETS_WRITER_TIMEOUT": "60"}
    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", "60")
    path = where("art")
    old = da.save(images(1), path, format="tfrecord")
    done = workers.run("save_part", path=path, seed=2, part=0, num_parts=2, env=patient)
    doomed = workers.start("save_part", path=path, seed=3, part=1, num_parts=2, n=3000, delay=0.005, env=patient)  # ~15 s if left alone
    deadline = time.monotonic() + 60
    while not [n for n in util.names_under(path) if n.startswith("writers/") and ".part-00001" in n]:
        assert time.monotonic() < deadline and doomed.alive(), "the slow part writer never took its lease"
        time.sleep(0.05)
    with pytest.raises(ArtifactError, match="part-00001-of-00002 of write 'default' are still being written"):
        da.commit_parts(path)  # the commit waits for the part: it refuses while its writer is alive
    assert doomed.kill() == -signal.SIGKILL
    assert [(v.id, v.current) for v in da.versions(path)] == [(old.version, True)]
    assert_same_elements(da.load(path), images(1))
    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", WRITER_TIMEOUT)
    time.sleep(float(WRITER_TIMEOUT) + 0.5)  # the killed writer's lease is stale now, judged by this process
    with pytest.raises(ArtifactError, match=r"lacks part\(s\) 1 of 2"):
        da.commit_parts(path)
    first = {n for n in util.names_under(path) if "part-00000-of-00002/" in n}
    stamps = {n: util.read_bytes(util.join(path, n)) for n in first}
    # the retry of part 1 alone; its writer judges abandonment with a longer timeout than the 2 s this test waited
    workers.run("save_part", path=path, seed=3, part=1, num_parts=2, env={"DATASET_ASSETS_WRITER_TIMEOUT": "60"})
    manifest = da.commit_parts(path)
    assert manifest.fingerprint == da.fingerprint(images(2).concatenate(images(3)))
    assert all(util.read_bytes(util.join(path, n)) == data for n, data in stamps.items()), "part 0 was rewritten"
    assert done["version"] == "part-00000-of-00002"
    assert da.verify(path, images(2).concatenate(images(3))).ok
    assert not [n for n in util.names_under(path) if "/." in n or n.startswith("writers/")], "debris of the killed attempt is left"


def test_parts_started_at_the_same_instant_join_one_write(where, workers):
    path = where("art")
    for race in range(3):  # the first writers of a write race to create it: they must agree on one version
        start_at = time.time() + 0.3
        started = [workers.start("save_part", path=path, seed=10 + race, part=i, num_parts=2, n=20 + i, start_at=start_at) for i in range(2)]
        for child in started:
            child.wait()
        manifest = da.commit_parts(path)
        assert manifest.fingerprint == da.fingerprint(images(10 + race, n=20).concatenate(images(10 + race, n=21)))


# --- races and damage (found by an adversarial review) --------------------------------------------------


def two_parts(path, seed=5):
    for i, piece in enumerate(slices(images(seed), 40, 2)):
        da.save_part(piece, path, part=i, num_parts=2, overwrite=True)


def open_write_doc(path) -> dict:
    return json.loads((path / "writers" / "parts-default.json").read_text())


def test_a_commit_slower_than_the_writer_timeout_keeps_its_version(tmp_path, monkeypatch):
    from dataset_assets import parts
    from dataset_assets.storage import ArtifactStore, Location

    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", "0.5")
    path = tmp_path / "art"
    da.save(images(1), path, format="tfrecord")
    two_parts(path)
    commit = parts.commit_version

    def slow(*args, **kwargs):  # the commit outlives the timeout, and another save cleans up meanwhile
        time.sleep(0.8)
        assert ArtifactStore(Location.of(path)).remove_abandoned() == []
        return commit(*args, **kwargs)

    monkeypatch.setattr(parts, "commit_version", slow)
    da.commit_parts(path)
    assert_same_elements(da.load(path), images(5))
    assert da.verify(path, images(5)).ok


def test_a_part_written_while_its_write_is_committed_is_refused_and_kept_out(tmp_path, monkeypatch):
    from dataset_assets import parts

    path = tmp_path / "art"
    two_parts(path)
    commit, refused = parts.commit_version, []

    def with_a_late_part(*args, **kwargs):  # a retried task or a zombie worker, in the middle of the commit
        with pytest.raises(ArtifactError, match="is being committed or was committed while this part was written") as e:
            da.save_part(images(9, n=20), path, part=0, num_parts=2, overwrite=True)
        refused.append(e)
        return commit(*args, **kwargs)

    monkeypatch.setattr(parts, "commit_version", with_a_late_part)
    da.commit_parts(path)
    assert refused
    assert_same_elements(da.load(path), images(5))
    assert da.verify(path, images(5)).ok


def test_an_open_write_left_by_a_dead_commit_never_rewrites_the_committed_version(tmp_path, monkeypatch):
    from dataset_assets import parts

    path = tmp_path / "art"
    two_parts(path)

    def killed(*args):
        raise KeyboardInterrupt  # the commit dies right after its version became current

    monkeypatch.setattr(parts, "close_write", killed)
    with pytest.raises(KeyboardInterrupt):
        da.commit_parts(path)
    monkeypatch.undo()
    committed = da.read_manifest(path).version
    assert open_write_doc(path)["id"] == committed  # the stale open write names the committed version
    with pytest.raises(ArtifactError, match="no open write"):
        da.commit_parts(path)
    da.save_part(images(6, n=20), path, part=0, num_parts=2, overwrite=True)  # starts a new write, a new version
    assert open_write_doc(path)["id"] != committed
    assert da.verify(path, images(5)).ok and da.read_manifest(path).version == committed


def test_a_linked_part_folder_is_refused_by_the_commit(tmp_path):
    path = tmp_path / "art"
    da.save(images(1), path, format="tfrecord")
    two_parts(path)
    part = path / "versions" / open_write_doc(path)["id"] / "part-00000-of-00002"
    part.rename(tmp_path / "outside")
    part.symlink_to(tmp_path / "outside")
    with pytest.raises(ArtifactError, match="is a symbolic link or not a folder.*Nothing was committed"):
        da.commit_parts(path)
    assert da.verify(path, images(1)).ok


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(num_parts=0), r"num_parts 0 is not an int from 1"),
        (lambda d: d.update(num_parts=10**7), r"num_parts 10000000 is not an int from 1"),
        (lambda d: d.update(num_parts=2.7), r"num_parts 2.7 is not an int"),
        (lambda d: d.update(id=["a"]), r"its version id \['a'\] is not one"),
        (lambda d: d.update(id="../x"), r"its version id '../x' is not one"),
        (lambda d: d.update(options=None), r"options or element_spec"),
    ],
    ids=["zero-parts", "ten-million-parts", "float-parts", "list-id", "dotted-id", "no-options"],
)
def test_a_damaged_open_write_is_refused_with_what_to_do(tmp_path, edit, message):
    path = tmp_path / "art"
    two_parts(path)
    doc = open_write_doc(path)
    edit(doc)
    (path / "writers" / "parts-default.json").write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match=message + r".*abandon_parts"):
        da.commit_parts(path)
    assert da.parts.abandon_parts(path) is True
    assert not (path / "writers" / "parts-default.json").exists()


@pytest.mark.parametrize("field, value", [("block_length", "abc"), ("records_per_file", 5), ("compression", "GZIP")])
def test_a_hand_edited_part_manifest_is_named_and_nothing_is_committed(tmp_path, field, value):
    path = tmp_path / "art"
    da.save(images(1), path, format="tfrecord")
    two_parts(path)
    part = path / "versions" / open_write_doc(path)["id"] / "part-00001-of-00002" / "part.json"
    doc = json.loads(part.read_text())
    doc["details"][field] = value
    part.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match=r"part 1 .*write part 1 again"):
        da.commit_parts(path)
    assert da.verify(path, images(1)).ok and len(da.versions(path)) == 1


def test_abandon_parts_drops_the_write_and_its_parts_only(tmp_path):
    path = tmp_path / "art"
    old = da.save(images(1), path, format="tfrecord")
    da.save_part(images(2), path, part=0, num_parts=3, overwrite=True)
    assert da.parts.abandon_parts(path) is True
    assert da.parts.abandon_parts(path) is False
    assert {p.name for p in (path / "versions").iterdir()} == {old.version}
    da.save_part(images(2), path, part=0, num_parts=1, overwrite=True)  # another num_parts is fine now
    assert da.commit_parts(path).fingerprint == da.fingerprint(images(2))


def test_a_writer_timeout_that_is_not_a_number_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_ASSETS_WRITER_TIMEOUT", "nan")
    with pytest.raises(ArtifactError, match="DATASET_ASSETS_WRITER_TIMEOUT='nan' is not a number of seconds"):
        da.save_part(images(1), tmp_path / "art", part=0, num_parts=1)
