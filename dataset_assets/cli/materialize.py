"""`dataset-assets materialize`: run the main job (every asset, every check) on the local Dagster instance.

    dataset-assets materialize [--home DIR] [--config run_config.yaml] [--verbose]

Artifacts go to `<home>/artifacts` (home: --home, else $DATASET_ASSETS_HOME, else ~/.dataset_assets).
Runs are recorded in the Dagster instance at $DAGSTER_HOME, by default `<home>/dagster` (SQLite
files, nothing to start), so `dagster dev -w workspace.yaml` shows them afterwards.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..home import HOME_ENV, home, read_stamp
from .output import size

DAGSTER_YAML = """\
# Local Dagster instance of dataset-assets: runs, events and schedule state are SQLite files in
# this folder. Point DAGSTER_HOME here when starting the UI to see the runs of `dataset-assets materialize`.
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME if set, else `<home>/dagster`; given a dagster.yaml (local SQLite storage, telemetry off) when it has none.

    Without one, Dagster prints its telemetry banner on every run; an existing dagster.yaml is the user's and stays as it is.
    """
    folder = Path(os.environ.get("DAGSTER_HOME") or home() / "dagster").expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(folder)
    return folder


def _run_config(path: Path | None, verbose: bool) -> dict:
    import yaml

    config = {}
    if path is not None:
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise SystemExit(f"dataset-assets: cannot read run config {path}: {e}")
        if not isinstance(config, dict):
            raise SystemExit(f"dataset-assets: {path} must hold a mapping such as 'resources: {{raw_data: {{config: ...}}}}'")
    config.setdefault("loggers", {"console": {"config": {"log_level": "INFO" if verbose else "WARNING"}}})
    return config


def _ui_command(dagster_home: Path) -> str:
    from ..defs.resources import PROJECT_ROOT

    workspace = PROJECT_ROOT / "workspace.yaml"
    target = f"-w {workspace}" if workspace.is_file() else "-m dataset_assets.definitions"
    env = f"DAGSTER_HOME={dagster_home}"
    if os.environ.get(HOME_ENV):
        env = f"{HOME_ENV}={os.environ[HOME_ENV]} {env}"
    return f"{env} dagster dev {target}"


def materialize(args: argparse.Namespace) -> int:
    if args.home:
        os.environ[HOME_ENV] = str(Path(args.home).expanduser().absolute())
    dagster_home = ensure_dagster_home()
    run_config = _run_config(args.config, args.verbose)

    from dagster import DagsterInstance

    from ..definitions import defs
    from ..dagster import DatasetIOManager
    from ..defs.jobs import MATERIALIZE_ALL

    job = defs.resolve_job_def(MATERIALIZE_ALL)
    print(f"dataset-assets: materializing every asset and running every check (job {MATERIALIZE_ALL}) ...", flush=True)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)

    checks = result.get_asset_check_evaluations()
    failed = [c for c in checks if not c.passed]
    bad = {c.asset_key for c in failed}
    rows, folders = [], set()
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        if "format" in meta and "path" in meta:
            path = Path(meta["path"])
            folders.add(path.parent)
            stamp = read_stamp(path)
            if mat.asset_key in bad:
                verified = "CHECK FAILED"
            else:
                # "verified": its round-trip check stamped this version (what load_asset loads); the others' checks passed
                verified = "verified" if stamp and stamp.get("version") == meta.get("version") else "checks passed"
            rows.append(f"  {path.name:<18} {meta['format']:<9} {meta['num_elements']:>7,} elements {size(meta['bytes_on_disk']):>10}  {verified}")
    base = ", ".join(sorted(map(str, folders))) or str(DatasetIOManager().resolved_base_dir())
    print(f"\nartifacts in {base}:")
    print("\n".join(rows) if rows else "  (none written)")
    print(f"\nchecks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    for c in failed:
        print(f"  FAILED {c.asset_key.to_user_string()}:{c.check_name}: {c.description}")
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            cause = error.cause or error
            print(f"  step {event.step_key} failed: {cause.message.strip()}")
    print(f"\nrun {result.run_id} is recorded in the Dagster instance at {dagster_home}")
    print(f"open the UI with:\n  {_ui_command(dagster_home)}")
    ok = result.success and not failed
    if ok:  # what to do next only when there is something to do it with
        print('load an artifact in Python with:\n  import dataset_assets as da; ds = da.load_asset("image_pathlist")')
        print('or ready-to-train batches (artifact + recipe):\n  batches = da.load_asset("image_train_pipeline")')
        print("train the example model with:\n  python examples/train_digits.py")
    print("\ndone" if ok else "\nFAILED: see the messages above", flush=True)
    return 0 if ok else 1


HELP = "materialize every asset and run every check on the local Dagster instance"
DESCRIPTION = __doc__
EXAMPLE = "example:\n  dataset-assets materialize --home /tmp/da --config run.yaml"
JSON = False  # its output is a run report for people; scripts read the Dagster instance or `ls --json`


def add_arguments(m: argparse.ArgumentParser) -> None:
    m.add_argument("--home", help=f"where artifacts and the local Dagster instance live (sets {HOME_ENV}; default ~/.dataset_assets)")
    m.add_argument("--config", type=Path, help="run config YAML, e.g. resources: {raw_data: {config: {images_dir: /my/images}}}")
    m.add_argument("--verbose", action="store_true", help="log every Dagster event")


run = materialize
