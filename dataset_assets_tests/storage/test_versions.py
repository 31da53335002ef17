"""Versions: every save is a new immutable version; `versions`, `load(version=)`, retention, the commit record,
and artifacts of the single-directory layout (legacy) — on local disk and on the S3 server."""

import datetime as dt
import json
import re

import pytest

import dataset_assets as da
from dataset_assets_tests.helpers import assert_same_elements
from dataset_assets_tests.storage import util
from dataset_assets_tests.storage.util import FORMATS, images, join

VERSION_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")  # 20261202T071236123456Z-3fa2c1


def version_folders(path) -> set[str]:
    """Names of the entries of `path/versions` as storage holds them (an emptied local folder still counts)."""
    return util.children(join(path, "versions"))


# every format on local disk; on S3 one (test_remote.py runs the five formats there)
EVERY_FORMAT_LOCALLY = [("local", f) for f in FORMATS]


@pytest.mark.parametrize(("where", "fmt"), EVERY_FORMAT_LOCALLY + [("s3", "npy")], indirect=["where"])
def test_two_saves_make_two_versions_and_each_loads(where, fmt):
    path = where("art")
    first = da.save(images(1), path, format=fmt)
    second = da.save(images(2), path, format=fmt, overwrite=True)

    infos = da.versions(path)
    assert all(isinstance(v, da.VersionInfo) for v in infos)
    assert [v.id for v in infos] == [first.version, second.version]  # oldest first
    assert first.version != second.version
    assert all(VERSION_ID.match(v.id) for v in infos), [v.id for v in infos]
    assert sorted(v.id for v in infos) == [v.id for v in infos]  # ids sort by creation time
    assert [v.current for v in infos] == [False, True]
    created = [dt.datetime.fromisoformat(v.created) for v in infos]  # ISO 8601
    assert created[0] <= created[1]
    for info, manifest, seed in zip(infos, (first, second), (1, 2)):
        assert info.fingerprint == manifest.fingerprint == da.read_manifest(path, version=info.id).fingerprint
        assert info.fingerprint == da.fingerprint(images(seed))
        assert info.num_elements == manifest.num_elements == 40
        assert info.bytes > 0
        assert info.format == fmt

    assert second.version == da.read_manifest(path).version  # the current version's manifest
    assert da.read_manifest(path, version=first.version).version == first.version
    assert_same_elements(da.load(path), images(2))
    assert_same_elements(da.load(path, version=second.version), images(2))
    assert_same_elements(da.load(path, version=first.version), images(1))  # the exact data of the older version
    assert da.verify(path, images(2)).ok
    report = da.verify(path, images(1), version=first.version)
    assert report.ok, report.problems


def test_save_without_overwrite_refuses_and_writes_nothing(where):
    path = where("art")
    kept = da.save(images(1), path, format="npy")
    before = util.files_under(path)
    with pytest.raises(da.ArtifactExistsError):
        da.save(images(2), path, format="npy")
    with pytest.raises(da.ArtifactExistsError):
        da.save(images(2), path, format="tfrecord", keep=1)  # neither another format nor retention bypasses it
    assert util.files_under(path) == before  # no lease, no version folder, no new commit record
    (info,) = da.versions(path)
    assert info.id == kept.version and info.current
    assert_same_elements(da.load(path), images(1))


def test_retention_keeps_the_newest_versions_and_removes_the_others_from_storage(where):
    path = where("art")
    ids = [da.save(images(i), path, format="npy", overwrite=True, keep=2).version for i in range(4)]
    assert [v.id for v in da.versions(path)] == ids[2:]
    assert version_folders(path) == set(ids[2:])
    for gone in ids[:2]:
        assert not util.exists(join(path, "versions", gone)), f"retention left files of version {gone}"
    assert_same_elements(da.load(path, version=ids[2]), images(2))
    assert_same_elements(da.load(path), images(3))

    ids += [da.save(images(i), path, format="npy", overwrite=True).version for i in (4, 5)]  # default keep=3
    assert [v.id for v in da.versions(path)] == ids[3:]
    assert version_folders(path) == set(ids[3:])
    with pytest.raises(da.ArtifactError) as error:
        da.load(path, version=ids[2])  # removed: now unknown
    assert all(i in str(error.value) for i in ids[3:]), str(error.value)

    before = util.files_under(path)
    with pytest.raises((ValueError, da.DatasetAssetsError)):
        da.save(images(9), path, format="npy", overwrite=True, keep=0)  # keep >= 1
    assert util.files_under(path) == before
    assert_same_elements(da.load(path), images(5))


def test_unknown_version_names_the_available_ones(where):
    path = where("art")
    a = da.save(images(1), path, format="tfrecord")
    b = da.save(images(2), path, format="tfrecord", overwrite=True)
    bogus = "20000101T000000000000Z-000000"
    with pytest.raises(da.ArtifactError) as error:
        da.load(path, version=bogus)
    assert a.version in str(error.value) and b.version in str(error.value), str(error.value)
    with pytest.raises(da.ArtifactError):
        da.read_manifest(path, version=bogus)
    report = da.verify(path, version=bogus)  # never raises for a bad artifact
    assert not report.ok


def test_commit_record_and_version_folders_follow_the_documented_layout(where):
    path = where("art")
    a = da.save(images(1), path, format="tfrecord")
    seq_after_first = json.loads(util.read_bytes(join(path, "current.json")))["seq"]
    b = da.save(images(2), path, format="tfrecord", overwrite=True)

    record = json.loads(util.read_bytes(join(path, "current.json")))
    assert record["schema"] == 1
    assert record["current"] == b.version
    assert isinstance(record["seq"], int) and record["seq"] > seq_after_first
    dt.datetime.fromisoformat(record["committed"])
    assert [v["id"] for v in record["versions"]] == [a.version, b.version]
    for entry, manifest in zip(record["versions"], (a, b)):
        manifest_bytes = util.read_bytes(join(path, "versions", manifest.version, "manifest.json"))
        assert entry["manifest_sha256"].removeprefix("sha256:") == util.sha256(manifest_bytes)
        doc = json.loads(manifest_bytes)
        assert doc["version"] == manifest.version and doc["fingerprint"] == manifest.fingerprint
        assert entry["fingerprint"] == manifest.fingerprint
        assert entry["num_elements"] == 40 and entry["format"] == "tfrecord" and entry["bytes"] > 0
        dt.datetime.fromisoformat(entry["created"])
        for f in da.read_manifest(path, version=manifest.version).files:  # every data file lies in its version's folder
            assert util.exists(join(path, "versions", manifest.version, f.path)), f.path

    names = util.names_under(path)
    assert not [n for n in names if n.startswith("writers/")], "leases left after the commits"
    assert {n.split("/")[0] for n in names if not n.startswith(".")} <= {"current.json", "versions", "writers"}, sorted(names)


# --- legacy: the single-directory layout ------------------------------------------------------------------


def check_legacy(legacy: str, dataset, fmt: str, converted: str) -> None:
    """A legacy artifact loads read-only as version "legacy"; saving over it says how to convert it."""
    expected = da.fingerprint(dataset)
    assert_same_elements(da.load(legacy), dataset)
    assert_same_elements(da.load(legacy, version="legacy"), dataset)
    (info,) = da.versions(legacy)
    assert (info.id, info.current, info.format, info.num_elements, info.fingerprint) == ("legacy", True, fmt, 40, expected)
    report = da.verify(legacy, dataset)
    assert report.ok, report.problems
    before = util.files_under(legacy)
    with pytest.raises(da.ArtifactError, match=r"save\(.*load\("):  # e.g. da.save(da.load(old), new)
        da.save(images(8), legacy, format=fmt, overwrite=True)
    assert util.files_under(legacy) == before  # read-only: untouched
    new = da.save(da.load(legacy), converted, format=fmt)  # the conversion the message tells
    assert new.fingerprint == expected
    assert [v.id for v in da.versions(converted)] == [new.version]
    assert_same_elements(da.load(converted), dataset)


def test_a_version_folder_on_its_own_loads_as_a_legacy_artifact(where):
    path = where("art")
    manifest = da.save(images(1), path, format="npy")
    legacy = where("legacy")
    util.copy_tree(join(path, "versions", manifest.version), legacy)
    names = util.names_under(legacy)
    assert "manifest.json" in names and "current.json" not in names
    check_legacy(legacy, images(1), "npy", where("converted"))


@pytest.mark.parametrize(("where", "fmt"), EVERY_FORMAT_LOCALLY + [("s3", "tfrecord")], indirect=["where"])
def test_artifacts_written_by_the_previous_library_load_read_only(where, old_library, tmp_path, fmt):
    written = tmp_path / "written-by-the-old-library"
    old_library.save(images(3), written, format=fmt)
    assert (written / "manifest.json").is_file() and not (written / "current.json").exists()
    legacy = where("old")
    util.copy_tree(written, legacy)
    check_legacy(legacy, images(3), fmt, where("converted"))
