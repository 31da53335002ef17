"""Every subcommand through the installed `dataset-assets` command: exit codes, human and JSON output.

Each subcommand runs at least once as a real subprocess (`run`): the exit status the shell sees, and no TensorFlow
INFO lines on stderr while TensorFlow loads. The other invocations of a test go through `cli` (the same `main`,
in-process; see conftest.py): they assert what the command computes and prints, not the process around it.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

import dataset_assets as da
from dataset_assets.home import write_stamp

from ..helpers import version_dir
from .conftest import images

TF_INFO = re.compile(r"^[IW]\d{4} |oneDNN|cpu_feature_guard|default buffer size", re.M)


@pytest.mark.parametrize("command", ["inspect", "verify", "ls", "convert", "diff", "materialize"])
def test_every_subcommand_has_help_with_an_example(cli, command):
    result = cli(command, "--help")
    assert result.code == 0, result
    assert "example" in result.out and f"dataset-assets {command}" in result.out.split("example", 1)[1]


def test_inspect_by_name_shows_format_spec_fingerprint_versions_and_verification(run, cli, npy_artifact):
    manifest = da.save(images(seed=1), npy_artifact, format="npy", overwrite=True)
    result = run("inspect", "digits")
    assert result.code == 0, result
    out = result.out
    assert out.startswith(str(npy_artifact)) and re.search(r"format +npy", out)
    assert re.search(r"elements +60\n", out) and f"fingerprint  {manifest.fingerprint}\n" in out
    assert re.search(r"\n +image +uint8\[8, 8, 1\]\n +label +int64\[\]\n", out)
    assert f"version      {manifest.version} (current)" in out and "versions (2 retained, oldest first)" in out
    assert f"* {manifest.version}" in out and "not verified: no stamp" in out
    assert not TF_INFO.search(result.err), result.err

    write_stamp(npy_artifact)
    doc = cli("inspect", str(npy_artifact), "--json").json()
    assert doc["version"] == manifest.version and doc["num_elements"] == 60 and doc["format"] == "npy"
    assert doc["fingerprint"] == manifest.fingerprint and doc["verification"]["state"] == "verified"
    assert [v["current"] for v in doc["versions"]] == [False, True]
    assert doc["element_spec"]["items"]["image"] == {"type": "tensor", "dtype": "uint8", "shape": [8, 8, 1]}

    old = doc["versions"][0]["id"]
    doc = cli("inspect", "digits", "--version", old, "--json").json()
    assert doc["version"] == old and not doc["current"] and doc["verification"]["state"] == "other version"


def test_inspect_of_something_that_is_no_artifact_fails_with_the_reason(cli, home):
    result = cli("inspect", "nothing_here")
    assert result.code == 2 and "no artifact 'nothing_here'" in result.err and "dataset-assets materialize" in result.err, result
    assert result.out == ""


def test_a_typo_or_a_missing_path_is_an_error_not_damage_and_a_pipeline_name_says_what_it_is(run, cli, home, npy_artifact):
    typo = run("verify", "digts")  # exit status 2 as the shell sees it
    assert typo.code == 2 and "no artifact 'digts'" in typo.err and "available: digits" in typo.err, typo
    missing = cli("verify", str(home / "nope" / "train"))
    assert missing.code == 2 and "does not exist" in missing.err and "DAMAGED" not in missing.out, missing
    (home / "artifacts" / "digits_train.pipeline.json").write_text(
        '{"kind": "dataset_assets.pipeline", "version": 1, "artifact": "digits", "recipe_file": "digits_train.recipe.yaml"}'
    )
    pipeline = cli("inspect", "digits_train")
    assert pipeline.code == 2 and "is a built pipeline (the artifact 'digits'" in pipeline.err and "load_asset('digits_train')" in pipeline.err, pipeline
    bad_option = cli("convert", "digits", str(home / "x"), "--format", "hdf5", "--option", "compression")
    assert bad_option.code == 2 and "give KEY=VALUE" in bad_option.err, bad_option  # 1 would mean "the fingerprint differs"


def test_verify_exits_0_when_intact_and_1_listing_the_problem_when_damaged(run, cli, npy_artifact):
    result = cli("verify", "digits")
    assert result.code == 0, result
    assert ": OK, version " in result.out and "60 elements" in result.out
    doc = cli("verify", str(npy_artifact), "--json").json()
    assert doc["ok"] is True and doc["problems"] == [] and doc["num_elements"] == 60

    data = next(p for p in version_dir(npy_artifact).iterdir() if p.suffix == ".npy" and "image" in p.name)
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(bytes(raw))
    result = run("verify", "digits")  # exit status 1 as the shell sees it
    assert result.code == 1, result
    assert "DAMAGED" in result.out and data.name in result.out
    result = cli("verify", "digits", "--json")
    assert result.code == 1 and result.json()["ok"] is False
    assert any(data.name in p for p in result.json()["problems"])


def test_ls_lists_artifacts_with_format_elements_size_versions_and_verification(run, cli, home, npy_artifact):
    da.save(tf.data.Dataset.range(7), home / "artifacts" / "counts", format="tfrecord")
    da.save(tf.data.Dataset.range(8), home / "artifacts" / "counts", format="tfrecord", overwrite=True)
    write_stamp(npy_artifact)
    result = run("ls")
    assert result.code == 0, result
    assert re.search(r"\n  counts +tfrecord +8 +\S+ \S+ +2  no\n", result.out), result
    assert re.search(r"\n  digits +npy +60 +\S+ \S+ +1  yes\n", result.out), result
    doc = cli("ls", str(home / "artifacts"), "--json").json()
    rows = {r["name"]: r for r in doc["artifacts"]}
    assert set(rows) == {"counts", "digits"}
    assert rows["counts"]["versions"] == 2 and rows["counts"]["num_elements"] == 8 and rows["counts"]["verified"] is False
    assert rows["digits"]["verified"] is True and rows["digits"]["bytes"] == da.read_manifest(npy_artifact).total_bytes
    empty = cli("ls", str(home / "none"))
    assert empty.code == 0 and "no artifacts" in empty.out


def test_convert_keeps_the_fingerprint_and_passes_options(run, cli, home, npy_artifact):
    dst = home / "converted"
    result = run("convert", "digits", str(dst), "--format", "tfrecord", "--option", "num_shards=3", "--option", "compression=GZIP")
    assert result.code == 0, result
    source = da.read_manifest(npy_artifact)
    assert f"fingerprint {source.fingerprint} (unchanged)" in result.out
    converted = da.read_manifest(dst)
    assert converted.format == "tfrecord" and converted.fingerprint == source.fingerprint
    assert converted.options["num_shards"] == 3 and converted.options["compression"] == "GZIP"
    assert len([f for f in converted.files if f.path.endswith(".tfrecord") or ".tfrecord" in f.path]) == 3
    assert da.verify(dst, images()).ok
    assert not TF_INFO.search(result.err), result.err

    again = cli("convert", "digits", str(dst), "--format", "hdf5", "--json")
    assert again.code == 2 and "already exists; pass --overwrite" in again.err and da.read_manifest(dst).format == "tfrecord"
    doc = cli("convert", "digits", str(dst), "--format", "hdf5", "--overwrite", "--json").json()
    assert doc["fingerprint_unchanged"] is True and doc["format"] == "hdf5" and da.read_manifest(dst).format == "hdf5"


def test_convert_refuses_what_the_target_cannot_hold_before_writing(cli, home):
    floats = home / "artifacts" / "floats"
    da.save(tf.data.Dataset.from_tensor_slices(np.linspace(0, 1, 10, dtype=np.float32)), floats, format="npy")
    result = cli("convert", "floats", str(home / "as_images"), "--format", "pathlist")
    assert result.code == 2 and "pathlist" in result.err, result
    assert not (home / "as_images").exists()
    result = cli("convert", "floats", str(home / "x"), "--format", "npy", "--option", "shards=2")
    assert result.code == 2 and "has no option 'shards'" in result.err and not (home / "x").exists(), result
    result = cli("convert", "floats", str(home / "x"), "--format", "npy", "--option", "shards")
    assert result.code != 0 and "KEY=VALUE" in result.err


def test_convert_reports_a_lossy_option_by_its_exit_status(run, home, npy_artifact):
    result = run(  # exit status 1 as the shell sees it
"convert", "digits", str(home / "jpeg"), "--format", "pathlist", "--option", "image_format=jpeg", "--json")
    assert result.code == 1, result
    doc = result.json()
    assert doc["fingerprint_unchanged"] is False and doc["fingerprint"] != doc["source_fingerprint"]


def test_diff_same_data_in_two_formats_and_what_differs(run, cli, home, npy_artifact):
    da.save(images(), home / "same_tfrecord", format="tfrecord")
    result = cli("diff", "digits", str(home / "same_tfrecord"))
    assert result.code == 0, result
    assert result.out.startswith("same data") and "format: npy | tfrecord" in result.out

    changed = home / "changed"
    da.save(images(seed=5), changed, format="npy")
    result = run("diff", str(npy_artifact), str(changed))  # exit status 1 as the shell sees it
    assert result.code == 1 and result.out.startswith("DIFFERENT"), result
    assert "fingerprint:" in result.out and re.search(r"file \S*image\S*: content differs", result.out)
    assert "label" not in "".join(l for l in result.out.splitlines() if l.strip().startswith("file"))  # same labels, same file

    other = home / "other"
    da.save(tf.data.Dataset.range(3), other, format="npy")
    doc = cli("diff", "digits", str(other), "--json").json()
    whats = {d["what"]: d for d in doc["differences"]}
    assert doc["same_data"] is False and whats["num_elements"]["a"] == 60 and whats["num_elements"]["b"] == 3
    assert whats["element_spec image"]["a"] == "uint8[8, 8, 1]" and whats["element_spec image"]["b"] is None


def test_diff_of_a_version_and_of_folders_of_partitions(cli, home, npy_artifact):
    first = da.read_manifest(npy_artifact).version
    da.save(images(seed=9), npy_artifact, format="npy", overwrite=True)
    result = cli("diff", f"digits@{first}", "digits", "--json")
    assert result.code == 1 and result.json()["version_a"] == first, result

    for side, seeds in (("a", {"2026-01-01": 1, "2026-01-02": 2, "2026-01-03": 3}), ("b", {"2026-01-01": 1, "2026-01-02": 7, "2026-01-04": 4})):
        for key, seed in seeds.items():
            da.save(images(10, seed), home / side / "daily" / key, format="npy")
    result = cli("diff", str(home / "a" / "daily"), str(home / "b" / "daily"))
    assert result.code == 1, result
    assert "only in A: 2026-01-03" in result.out and "only in B: 2026-01-04" in result.out
    assert "2026-01-02" in result.out and "2026-01-01 " not in result.out.replace("2026-01-01\n", "")
    doc = cli("diff", str(home / "a" / "daily"), str(home / "b" / "daily"), "--json").json()
    assert doc["partitions"]["2026-01-01"]["same_data"] is True and doc["partitions"]["2026-01-02"]["same_data"] is False


def test_tfrecord_verify_prints_no_tensorflow_info_and_no_buffer_size_line(run, home):
    da.save(images(), home / "artifacts" / "records", format="tfrecord")
    result = run("verify", "records")
    assert result.code == 0, result
    assert not TF_INFO.search(result.err), result.err
