"""`dataset_assets.dagster`, the one import path of the integration: importing it builds nothing and reads no file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dataset_assets.dagster as integration

PACKAGE = Path(integration.__file__).resolve().parents[1]

PROBE = """
import gc, json, os, sys
import tensorflow, dagster, dataset_assets  # the layers below it, imported first
KINDS = (dagster.AssetsDefinition, dagster.Definitions, dagster.ResourceDefinition)
before = {id(o) for o in gc.get_objects() if isinstance(o, KINDS)}  # Dagster's own (fs_io_manager, ...)
opened = []
sys.addaudithook(lambda event, args: opened.append(os.path.abspath(str(args[0]))) if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) else None)
import dataset_assets.dagster
built = [type(o).__name__ for o in gc.get_objects() if isinstance(o, KINDS) and id(o) not in before]
print(json.dumps({"opened": opened, "built": built, "modules": sorted(m for m in sys.modules if m.startswith("dataset_assets"))}))
"""


def test_importing_the_public_module_builds_nothing_and_reads_no_file(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "DATASET_ASSETS_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.splitlines()[-1])
    assert found["built"] == []  # no asset, check, resource or Definitions exists after the import
    installed = (sys.prefix, sys.base_prefix, str(PACKAGE))
    foreign = [p for p in found["opened"] if not p.startswith(installed)]
    assert foreign == []  # only installed code and its metadata: no data file, no recipe, nothing in the home or the CWD
    assert not any(p.startswith(str(PACKAGE.parent / "data") + os.sep) for p in found["opened"])
    assert not (tmp_path / "home").exists()
    assert not any(m.startswith("dataset_assets.defs") for m in found["modules"])  # nothing of the demo


def test_the_format_library_and_the_catalog_never_import_dagster():
    code = "import sys, dataset_assets as da, dataset_assets.partitions, dataset_assets.home; assert 'dagster' not in sys.modules, 'dagster imported'"
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_it_exports_what_a_user_needs():
    assert {"DatasetIOManager", "TFRecordIOManager", "artifact_assets", "integrity_check", "round_trip_check", "io_managers",
            "ARTIFACT_AUTOMATION", "element_spec_schema", "preview_markdown"} <= set(integration.__all__)
    assert all(hasattr(integration, name) for name in integration.__all__)
