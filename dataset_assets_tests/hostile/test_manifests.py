"""A damaged or crafted manifest: `verify` reports it and never raises, `load` raises ArtifactError; every
count is compared with the files before anything is allocated from it, and manifests have a size bound."""

import json

import pytest

import dataset_assets as da
from dataset_assets.manifest import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, MAX_NESTING
from dataset_assets_tests.helpers import rewrite_manifest, version_dir
from dataset_assets_tests.hostile.conftest import assert_clean_exit, run_child


def _assert_reported_and_refused(path, words):
    report = da.verify(path)  # must not raise
    assert not report.ok and any(words in p for p in report.problems), report.problems
    with pytest.raises(da.ArtifactError, match=words):
        list(da.load(path))


def _first_leaf(doc):
    spec = doc["element_spec"]
    return spec["items"]["image"]


def test_misspelt_dtype(artifact):
    path, _ = artifact
    rewrite_manifest(path, lambda d: _first_leaf(d).update(dtype="f6oat32"))
    _assert_reported_and_refused(path, "element_spec cannot be rebuilt")


def _write_raw_manifest(path, data: bytes) -> None:
    """Replace the current manifest by `data` and update the commit record's digest of it."""
    import hashlib

    (version_dir(path) / "manifest.json").write_bytes(data)
    record_path = path / "current.json"
    record = json.loads(record_path.read_text())
    for v in record["versions"]:
        if v["id"] == record["current"]:
            v["manifest_sha256"] = hashlib.sha256(data).hexdigest()
    record_path.write_text(json.dumps(record))


@pytest.mark.parametrize("where", ["element_spec", "details"])
@pytest.mark.parametrize("depth", [MAX_NESTING + 5, 500, 100_000])  # parsed then refused; past the JSON parser's own limit
def test_deeply_nested_manifest(artifact, where, depth):
    path, _ = artifact
    doc = json.loads((version_dir(path) / "manifest.json").read_text())
    doc[where] = "@@DEEP@@"
    deep = '{"type": "tuple", "items": [' * depth + '{"type": "tensor", "dtype": "int64", "shape": []}' + "]}" * depth
    _write_raw_manifest(path, json.dumps(doc).replace('"@@DEEP@@"', deep).encode())
    _assert_reported_and_refused(path, "nested")


def test_nesting_just_within_the_bound_is_read(tmp_path):
    """The bound is on depth, not on ordinary structure: a nested dict element of 20 levels saves and loads."""
    import tensorflow as tf

    element = tf.constant(1, tf.int64)
    for i in range(20):
        element = {f"k{i}": element}
    ds = tf.data.Dataset.from_tensors(element).repeat(3)
    da.save(ds, tmp_path / "deep", format="npy")
    assert 20 * 2 < MAX_NESTING
    assert len(list(da.load(tmp_path / "deep"))) == 3 and da.verify(tmp_path / "deep").ok


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("num_elements", "20", "not a count"),
        ("num_elements", -1, "not a count"),
        ("num_elements", True, "not a count"),
        ("files", [{"path": "x"}], "not a readable manifest"),
        ("files", [{"path": 3, "bytes": 1, "sha256": "", "crc32c": ""}], "wrong type"),
        ("details", [], "not a dict"),
        ("element_spec", "tensor", "not a dict"),
        ("block_bytes", 4096, "block_bytes"),
    ],
)
def test_fields_of_the_wrong_type(artifact, field, value, words):
    path, _ = artifact
    rewrite_manifest(path, lambda d: d.update({field: value}))
    _assert_reported_and_refused(path, words)


def test_manifest_not_an_object(artifact):
    path, _ = artifact
    _write_raw_manifest(path, b"[1, 2, 3]")
    _assert_reported_and_refused(path, "not an object")


@pytest.mark.parametrize("fmt", ["npy", "hdf5"])
def test_huge_num_elements_is_refused_before_allocating(tmp_path, fmt):
    """A billion elements claimed over 20 elements' files: refused at once, with little memory (child process)."""
    path = tmp_path / "art"
    proc = run_child(
        f"""
        import resource, sys, time
        import dataset_assets as da
        from dataset_assets_tests.hostile.conftest import images
        from dataset_assets_tests.helpers import rewrite_manifest
        da.save(images(), {str(path)!r}, format={fmt!r})
        rewrite_manifest({str(path)!r}, lambda d: d.update(num_elements=10**9))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        report = da.verify({str(path)!r})
        assert not report.ok, report
        print(report.problems)
        try:
            list(da.load({str(path)!r}))
        except da.ArtifactError as e:
            print("refused:", e)
        else:
            sys.exit("loaded a billion elements?")
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print("grew_kb", grown, "seconds", time.monotonic() - started)
        assert grown < 200_000, grown
        """,
        timeout=180,
        env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[2])},
    )
    assert_clean_exit(proc)
    assert "refused:" in proc.stdout and "rows" in proc.stdout, proc.stdout


def test_manifest_above_the_bound_is_refused_without_reading_it_whole(artifact, monkeypatch):
    path, _ = artifact
    rewrite_manifest(path, lambda d: d["details"].update(padding="x" * 300_000))
    monkeypatch.setenv(MAX_BYTES_ENV, "100000")
    read = []
    from dataset_assets.storage import location

    original = location.Location.read_bytes

    def spy(self, limit=None):
        data = original(self, limit)
        read.append((self.path, limit, None if data is None else len(data)))
        return data

    monkeypatch.setattr(location.Location, "read_bytes", spy)
    _assert_reported_and_refused(path, "larger than 100000 bytes")
    manifest_reads = [r for r in read if r[0].endswith("manifest.json")]
    assert manifest_reads and all(r[2] <= 100_001 for r in manifest_reads), manifest_reads
    monkeypatch.delenv(MAX_BYTES_ENV)
    assert da.verify(path).ok  # the default bound (64 MiB) takes it
    assert DEFAULT_MAX_BYTES == 64 << 20


@pytest.mark.parametrize("stream_change", ["more_rows_claimed", "header_lies"])
def test_npy_header_and_file_size_must_agree(tmp_path, stream_change):
    import numpy as np

    path = tmp_path / "art"
    import tensorflow as tf

    da.save(tf.data.Dataset.from_tensor_slices(np.arange(100, dtype=np.int64)), path, format="npy")
    victim = next(version_dir(path).glob("*.npy"))
    data = bytearray(victim.read_bytes())
    old = b"(100,)"
    new = b"(900,)" if stream_change == "header_lies" else b"(100,)"
    assert old in data
    data = data.replace(old, new)
    victim.write_bytes(bytes(data))
    from dataset_assets.storage.checksums import digest_file

    d = digest_file(victim)
    def edit(doc):
        for f in doc["files"]:
            if f["path"] == victim.name:
                f.update(bytes=d.bytes, sha256=d.sha256, crc32c=d.crc32c)

    rewrite_manifest(path, edit)
    if stream_change == "more_rows_claimed":
        rewrite_manifest(path, lambda doc: doc.update(num_elements=101))
        _assert_reported_and_refused(path, "has 100 rows, the manifest's count need 101")
    else:
        _assert_reported_and_refused(path, "header gives shape")
