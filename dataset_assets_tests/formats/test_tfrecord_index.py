"""The record index is read a group at a time: a slice or a shard of a large tfrecord artifact reads the groups it
falls in, not the whole index; artifacts saved before the group table still read; a table that disagrees is refused."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.formats.tfrecord.framing import INDEX, INDEX_EVERY
from dataset_assets.selection import element_range
from dataset_assets_tests.helpers import bytes_read, rewrite_manifest

N = 8 * INDEX_EVERY + 1000  # nine groups: an 8.4 MB index, 45x a 1% slice's records


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("index") / "a"
    da.save(tf.data.Dataset.range(N).map(lambda i: {"i": i, "x": tf.cast(i % 7, tf.float32)}), path, format="tfrecord", shard_bytes=4 << 20)
    assert len(da.read_manifest(path).details["files"]) > 3  # files filled in turn: element i is record i of the index
    return path


def test_the_manifest_locates_every_group_of_the_index(artifact):
    details = da.read_manifest(artifact).details
    assert details["index_every"] == INDEX_EVERY and len(details["index_offsets"]) == 9 and details["index_offsets"][0] == 0


def test_a_one_percent_slice_reads_one_group_of_the_index_not_all_of_it(artifact):
    manifest = da.read_manifest(artifact)
    index = next(f.bytes for f in manifest.files if f.path == INDEX)
    records = sum(f.bytes for f in manifest.files if f.path != INDEX)
    loaded = da.load(artifact, split="[50%:51%]")
    before = bytes_read(artifact)
    got = np.concatenate([b["i"] for b in loaded.batch(4096).as_numpy_iterator()])
    read = bytes_read(artifact) - before
    assert got.tolist() == list(element_range(N, "[50%:51%]"))
    share = records * len(got) // N
    # its records, the 1 MiB checksum blocks its edges fall in (in up to three files), and one group of the index (8 bytes a
    # record, 1 MiB) with the block its first bytes share: far less than the whole index
    assert read <= 1.2 * share + 3 * 2 * (1 << 20) + 2 * (1 << 20), f"read {read:,} bytes for a share of {share:,}"
    assert read < share + index // 2, f"read {read:,} bytes: most of the index ({index:,}) or more"


def test_single_reads_and_slices_agree_with_the_index_read_whole(artifact, tmp_path):
    # as an artifact saved before the group table: no index_every / index_offsets, the index read whole once
    old = tmp_path / "old"
    shutil.copytree(artifact, old)

    def drop_the_table(doc):
        del doc["details"]["index_every"], doc["details"]["index_offsets"]

    rewrite_manifest(old, drop_the_table)
    for i in (0, INDEX_EVERY - 1, INDEX_EVERY, 2 * INDEX_EVERY + 5, N - 1):
        assert int(da.open(old)[i]["i"]) == int(da.open(artifact)[i]["i"]) == i
    want = list(range(N - 300, N))
    assert [int(e["i"]) for e in da.load(old, split="[-300:]")] == [int(e["i"]) for e in da.load(artifact, split="[-300:]")] == want


def test_a_group_table_that_disagrees_with_the_index_is_refused_naming_it(artifact, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(artifact, bad)

    def shift(doc):
        doc["details"]["index_offsets"][2] += 16

    rewrite_manifest(bad, shift)
    art = da.open(bad)
    assert int(art[5]["i"]) == 5  # the first group is still right
    with pytest.raises(da.ArtifactError, match=f"{INDEX}: records {INDEX_EVERY}..{2 * INDEX_EVERY} of the record index end at byte"):
        art[INDEX_EVERY + 1]
