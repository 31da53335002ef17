"""Dagster's overhead: the main job (`dataset-assets materialize`) vs the same library calls made directly.

"Direct" mirrors what the job does with the library on the demo data: read the raw
sources, save each dataset as npy and verify it, then save every artifact the code location
defines from the loaded dataset, verify its checksums and verify it against its source, then
fit, build, save and rebuild every pipeline recipe (the `pipelines` group and its checks).
Both run in fresh processes; the timed part excludes imports, and the whole-process
times (imports included) are reported too.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path


def prepare(task: dict):
    home = Path(task["path"])
    if task["op"] == "dagster_job":
        os.environ.pop("DAGSTER_HOME", None)  # the CLI then keeps its instance in <home>/dagster
        import dataset_assets.definitions  # noqa: F401  (imports before the clock)
        from dataset_assets import cli

        def job():
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                code = cli.main(["materialize", "--home", str(home)])
            checks = re.search(r"checks: (\d+) passed, (\d+) failed", printed.getvalue())
            artifacts = len([p for p in (home / "artifacts").glob("*/current.json")])
            return {"exit_code": code, "checks_passed": int(checks[1]) if checks else None, "artifacts": artifacts}

        return job

    import tensorflow as tf

    import dataset_assets as da
    from dataset_assets.defs.artifacts import ARTIFACT_FORMATS
    from dataset_assets.defs.datasets import image_dataset_from_folder
    from dataset_assets.defs.raw import read_numeric, read_table, scan_images
    from dataset_assets.defs.recipes import PIPELINES, RECIPES_DIR, _content
    from dataset_assets.defs.resources import RawData
    from dataset_assets.recipes import Recipe
    from dataset_assets.pipelines import open_pipeline, write_pipeline
    from dataset_assets.spec import spec_to_json

    def direct():
        raw = RawData()
        numeric, _ = read_numeric(raw.numeric_path)
        table, _ = read_table(raw.table_path)
        folder = scan_images(raw.images_path, raw.image_size)
        sources = {
            "numeric": tf.data.Dataset.from_tensor_slices(numeric),
            "image": image_dataset_from_folder(folder, raw.image_size),
            "table": tf.data.Dataset.from_tensor_slices(table),
        }
        base = home / "artifacts"
        saved, checks, ok = 0, 0, True
        for name, ds in sources.items():
            path = base / f"{name}_dataset"
            da.save(ds, path, format="npy", overwrite=True)
            ok &= da.verify(path).ok
            checks += 1
            source = da.load(path)
            for fmt in ARTIFACT_FORMATS[name]:
                target = base / f"{name}_{fmt}"
                da.save(source, target, format=fmt, overwrite=True)
                ok &= da.verify(target).ok and da.verify(target, source).ok
                saved, checks = saved + 1, checks + 2
        for name, artifact in PIPELINES.items():
            recipe_file, artifact_dir = RECIPES_DIR / f"{name}.yaml", base / artifact
            source = Recipe.load(recipe_file)
            fitted = source.fit(da.load(artifact_dir))
            built = fitted.apply(da.load(artifact_dir), source_id=da.read_manifest(artifact_dir).fingerprint)
            elements, count = _content(built)
            pointer = write_pipeline(f"{name}_pipeline", artifact_dir, fitted, source_recipe=str(recipe_file),
                                     source_recipe_fingerprint=source.fingerprint, elements_fingerprint=elements,
                                     num_elements=count, element_spec=spec_to_json(built.element_spec))
            rebuilt, _, _ = open_pipeline(pointer, verified=False)
            ok &= _content(rebuilt) == (elements, count)
            saved, checks = saved + 1, checks + 1
        return {"artifacts": saved + len(sources), "checks_passed": checks if ok else None, "exit_code": 0 if ok else 1}

    return direct


def run(args, work: Path) -> dict:
    from .run import measure_repeated

    out = {}
    for op in ("dagster_direct", "dagster_job"):
        home = work / op
        print(f"[dagster] {op}", flush=True)
        out[op] = measure_repeated({"op": op, "path": str(home)}, args, before=lambda h=home: shutil.rmtree(h, ignore_errors=True))
        shutil.rmtree(home, ignore_errors=True)
    d, j = out["dagster_direct"], out["dagster_job"]
    if d.get("error") or j.get("error"):
        return {**out, "ratio": None, "error": d.get("error") or j.get("error")}
    return {
        **out,
        "direct_s": d["seconds"],
        "dagster_s": j["seconds"],
        "ratio": j["seconds"] / d["seconds"],
        "ratio_whole_process": j["process_seconds"] / d["process_seconds"],
    }
