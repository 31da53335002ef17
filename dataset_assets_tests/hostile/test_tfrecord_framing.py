"""A crafted TFRecord length prefix (2^40, with a valid length CRC) is refused before TensorFlow reads the file
(TensorFlow's uncompressed reader aborts the process on the allocation it asks for); runs in a child process."""

import pytest

from dataset_assets_tests.hostile.conftest import assert_clean_exit, run_child

CRAFT = """
import struct, sys, zlib
import numpy as np
import dataset_assets as da
from dataset_assets.formats._crc import crc_u64, mask
from dataset_assets.storage.checksums import digest_file
from dataset_assets_tests.helpers import rewrite_manifest, version_dir
from dataset_assets_tests.hostile.conftest import images

path = sys.argv[1]
compression, legacy = {compression!r}, {legacy!r}
da.save(images(), path, format="tfrecord", compression=compression)
d = da.read_manifest(path).details
victim = version_dir(path) / d["files"][0]
raw = victim.read_bytes()
if compression:
    raw = zlib.decompress(raw, 31 if compression == "GZIP" else 15)
first = struct.unpack("<Q", raw[:8])[0]
huge = 1 << 40
head = struct.pack("<Q", huge) + struct.pack("<I", int(mask(crc_u64(np.array([huge], np.uint64)))[0]))
crafted = raw[: first + 16] + head + raw[first + 16 + 12 :]  # the second record now claims a terabyte
if compression:
    c = zlib.compressobj(6, zlib.DEFLATED, 31 if compression == "GZIP" else 15)
    crafted = c.compress(crafted) + c.flush()
victim.write_bytes(crafted)
digest = digest_file(victim)

def edit(doc):
    for f in doc["files"]:
        if f["path"] == victim.name:
            f.update(bytes=digest.bytes, sha256=digest.sha256, crc32c=digest.crc32c)
    if legacy:  # an artifact of format version 1 has no record index: its files are walked record by record
        doc["format_version"] = 1
        doc["files"] = [f for f in doc["files"] if f["path"] != "record_lengths.npy"]

rewrite_manifest(path, edit)
report = da.verify(path)
assert not report.ok, report
print("verify:", report.problems)
for checked in (True, False):
    try:
        list(da.load(path, checked=checked))
    except da.ArtifactError as e:
        print("load refused:", e)
    else:
        sys.exit("loaded a crafted file")
"""


@pytest.mark.parametrize("compression,legacy", [(None, False), (None, True), ("GZIP", False), ("ZLIB", False)])
def test_crafted_length_prefix_is_refused(tmp_path, compression, legacy):
    proc = run_child(CRAFT.format(compression=compression, legacy=legacy).replace("sys.argv[1]", repr(str(tmp_path / "art"))), timeout=180)
    assert_clean_exit(proc)
    assert proc.stdout.count("load refused:") == 2, proc.stdout
    if not compression:  # refused by the framing check, which names the record
        assert "record 1" in proc.stdout and ("length prefix" in proc.stdout or "claims" in proc.stdout), proc.stdout


def test_intact_files_pass_the_framing_check_in_every_layout(tmp_path):
    import dataset_assets as da
    from dataset_assets_tests.helpers import assert_same_elements
    from dataset_assets_tests.hostile.conftest import images

    for i, options in enumerate([{}, {"num_shards": 3}, {"shard_bytes": 4096}, {"compression": "GZIP"}]):
        path = tmp_path / f"art{i}"
        da.save(images(300), path, format="tfrecord", **options)
        assert_same_elements(da.load(path), images(300))
        assert da.verify(path).ok


def test_missing_record_index_is_refused(tmp_path):
    import dataset_assets as da
    from dataset_assets_tests.helpers import rewrite_manifest, version_dir
    from dataset_assets_tests.hostile.conftest import images

    path = tmp_path / "art"
    da.save(images(), path, format="tfrecord")
    (version_dir(path) / "record_lengths.npy").unlink()
    rewrite_manifest(path, lambda d: d.update(files=[f for f in d["files"] if f["path"] != "record_lengths.npy"]))
    with pytest.raises(da.ArtifactError, match="record_lengths.npy is missing"):
        da.load(path)
    assert not da.verify(path).ok
