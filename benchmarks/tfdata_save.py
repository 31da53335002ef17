"""tfdata save against TensorFlow's own `Dataset.save` of the same dataset, in one process.

    python -m benchmarks.tfdata_save [--quick] [--workloads numeric,images,mixed] [--repeat 3]

Each round saves the workload's dataset with `Dataset.save`, then with `da.save(format="tfdata")`,
to a fresh temporary folder each; the ratio is TF's minimum time over ours (1.0x: as fast as TF).
Run from two checkouts one after the other, alternating, to compare two versions of the library:
the ratio within one process is what to compare, since times on a shared machine move up to 2x.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from . import workloads


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tfdata_save", description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default=",".join(workloads.WORKLOADS))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1/100 of the full sizes: a smoke run")
    args = p.parse_args(argv)
    import dataset_assets as da

    for name in [w for w in args.workloads.split(",") if w]:
        dataset = workloads.dataset(name, workloads.make_arrays(name, workloads.size(name, args.quick)))
        theirs, ours = [], []
        for _ in range(args.repeat):
            folder = tempfile.mkdtemp(prefix="dataset-assets-tfdata-save-")
            try:
                started = time.perf_counter()
                dataset.save(f"{folder}/tf")
                theirs.append(time.perf_counter() - started)
                started = time.perf_counter()
                da.save(dataset, f"{folder}/ours", format="tfdata")
                ours.append(time.perf_counter() - started)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        print(f"{name}: Dataset.save {min(theirs):.3f} s, da.save {min(ours):.3f} s, {min(theirs) / min(ours):.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
