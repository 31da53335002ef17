"""The whole graph, materialized for real: every artifact written, described, versioned and verified."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey

import dataset_assets as da
from dataset_assets.dagster import artifact_assets
from dataset_assets.defs.artifacts import ARTIFACT_FORMATS
from dataset_assets.defs.datasets import image_dataset
from dataset_assets.home import read_stamp
from dataset_assets_tests.helpers import version_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"
ARTIFACTS = [f"{d}_{f}" for d, fmts in ARTIFACT_FORMATS.items() for f in fmts]
METADATA = {
    "path", "format", "num_elements", "dagster/row_count", "bytes_on_disk", "fingerprint", "dagster/column_schema",
    "write_seconds", "elements_per_second", "megabytes_per_second", "preview",
}


def test_every_check_passed(graph):
    evaluations = graph.result.get_asset_check_evaluations()
    assert len(evaluations) == 2 * len(ARTIFACTS) + 3 + 3  # + dataset integrity, + pipeline rebuild
    assert all(e.passed for e in evaluations)
    assert not [e for e in evaluations if "partition" in e.metadata or "problems" in e.metadata]  # no empty rows in the UI


@pytest.mark.parametrize("name", ARTIFACTS)
def test_artifact_is_written_in_its_format_with_full_metadata(graph, name):
    mat = graph.materialization(name)
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert METADATA <= set(meta)
    path = graph.base_dir / name
    assert meta["path"] == str(path)
    manifest = da.read_manifest(path)
    assert meta["format"] == manifest.format == name.split("_", 1)[1]
    assert meta["num_elements"] == meta["dagster/row_count"] == manifest.num_elements
    # the bytes of the current version's data files (its manifest aside): what the manifest lists, and nothing else
    files = [f for f in version_dir(path).rglob("*") if f.is_file() and f.name != "manifest.json"]
    assert sorted(str(f.relative_to(version_dir(path))) for f in files) == sorted(f.path for f in manifest.files)
    assert meta["bytes_on_disk"] == manifest.total_bytes == sum(f.stat().st_size for f in files)
    assert meta["fingerprint"] == manifest.fingerprint
    assert mat.tags["dagster/data_version"] == manifest.fingerprint  # the data version is the content fingerprint
    assert meta["elements_per_second"] > 0 and meta["write_seconds"] > 0
    assert meta["preview"].startswith("| # |") and len(meta["preview"].splitlines()) == 2 + 5
    assert read_stamp(path)["fingerprint"] == manifest.fingerprint


def test_one_dataset_has_one_fingerprint_in_every_format(graph):
    for dataset, formats in ARTIFACT_FORMATS.items():
        source = graph.materialization(f"{dataset}_dataset").metadata["fingerprint"].value
        assert {graph.materialization(f"{dataset}_{f}").metadata["fingerprint"].value for f in formats} == {source}


def test_column_schema_follows_the_element_spec(graph):
    columns = {c.name: c.type for c in graph.materialization("image_pathlist").metadata["dagster/column_schema"].value.columns}
    assert columns == {"image": "uint8[8, 8, 1]", "label": "int64"}
    columns = {c.name: c.type for c in graph.materialization("table_tfrecord").metadata["dagster/column_schema"].value.columns}
    assert columns == {
        "id": "int64", "petal_length_cm": "float64", "petal_width_cm": "float64",
        "sepal_length_cm": "float64", "sepal_width_cm": "float64", "species": "string",
    }
    columns = {c.name: c.type for c in graph.materialization("numeric_hdf5").metadata["dagster/column_schema"].value.columns}
    assert columns == {"features": "float32[64]", "target": "int64"}


def test_preview_shows_the_first_rows(graph):
    preview = graph.materialization("table_npy").metadata["preview"].value
    assert preview.splitlines()[2] == "| 0 | 1 | 1.4 | 0.2 | 5.1 | 3.5 | setosa |"


def test_load_asset_in_a_fresh_process_without_dagster_trains_the_example(graph):
    """examples/train_digits.py in a new interpreter: load_asset finds the pipelines from DATASET_ASSETS_HOME alone."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['train_digits.py', '--epochs', '20']\n"
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')\n"
        "assert 'dagster' not in sys.modules, 'load_asset must not need Dagster'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    env["DATASET_ASSETS_HOME"] = str(graph.home)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cpu_feature_guard" not in proc.stderr and "oneDNN" not in proc.stderr, proc.stderr[-3000:]  # no TensorFlow INFO lines
    lines = proc.stdout.splitlines()
    assert lines[0] == "image_train_pipeline: 800 training and 200 held-out images of 10 classes"
    accuracy = float(lines[1].split()[2])
    assert accuracy > 0.8, proc.stdout  # chance is 0.1


def test_factory_names_and_wires_an_artifact():
    made = artifact_assets(image_dataset, ["tfrecord"], name="image")
    (artifact,) = made.assets
    spec = artifact.specs_by_key[AssetKey("image_tfrecord")]
    assert spec.group_name == "artifacts" and artifact.get_io_manager_key_for_asset_key(spec.key) == "tfrecord_io_manager"
    assert {d.asset_key for d in spec.deps} == {AssetKey("image_dataset")}
    assert {(c.asset_key, c.name) for check in made.checks for c in check.check_specs} == {
        (AssetKey("image_tfrecord"), "round_trip"), (AssetKey("image_tfrecord"), "integrity")}
