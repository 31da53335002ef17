"""Where the time of a missed target goes: `python -m benchmarks.breakdown {tfdata,tfrecord,pathlist} [--workload W]`.

Each stage is timed in one process (best of `--repeat`), adding one piece of the
pipeline at a time, so the difference between two lines is the cost of that piece.
Complements `benchmarks.profile` (cProfile / py-spy of one measurement): TensorFlow's
work happens in its own threads, where a Python profile sees one opaque call.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import workloads


def _timer(repeat: int):
    def timed(label: str, run) -> float:
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        print(f"  {label:52s} {best:7.3f} s", flush=True)
        return best

    return timed


def _drain(ds) -> None:
    for _ in ds:
        pass


def tfdata(wl: str, work: Path, timed) -> None:
    """Our tfdata write = iterate the source in batches, encode its TensorProto records (numpy), write them + checksums."""
    import dataset_assets as da
    from dataset_assets.columns import COUNT, Layout, iter_batches
    from dataset_assets.formats._recordio import frame
    from dataset_assets.formats.tfdata import snapshot

    src = workloads.dataset(wl, workloads.make_arrays(wl, workloads.FULL_SIZES[wl]))
    layout = Layout(src.element_spec)
    encoders = [snapshot._encoder(leaf) for leaf in layout.leaves]

    def fresh(run):
        def go():
            shutil.rmtree(work / "t", ignore_errors=True)
            run(work / "t")

        return go

    def encoded():
        for batch in iter_batches(src, layout):
            frame([encode(batch, int(batch[COUNT])) for encode in encoders], int(batch[COUNT]))

    timed("tf.data.Dataset.save", fresh(lambda p: src.save(str(p))))
    timed("iterate the source in batches (iter_batches)", lambda: _drain(iter_batches(src, layout)))
    timed("+ encode and frame the TensorProto records", encoded)
    timed("da.save(format='tfdata') (+ write, SHA-256, fingerprint, sync)", fresh(lambda p: da.save(src, p, format="tfdata")))


def tfrecord(wl: str, work: Path, timed) -> None:
    """Our tfrecord read = read records, parse_example per batch, decode columns, unbatch."""
    import tensorflow as tf

    import dataset_assets as da
    from dataset_assets.columns import Layout
    from dataset_assets.formats.tfrecord.reader import library_spec
    from dataset_assets.manifest import read_manifest

    arrays = workloads.make_arrays(wl, workloads.FULL_SIZES[wl])
    da.save(workloads.dataset(wl, arrays), work / "t", format="tfrecord")
    da.save(workloads.dataset(wl, arrays), work / "n", format="npy")
    manifest = read_manifest(work / "t")
    layout = Layout(manifest.spec)
    files = [str(work / "t" / f) for f in manifest.details["files"]]
    spec = library_spec(layout, [c.name for c in layout.columns])

    def records():
        return tf.data.TFRecordDataset(files, buffer_size=1 << 20).batch(4096)

    def parsed():
        return records().map(lambda s: tf.io.parse_example(s, spec), num_parallel_calls=tf.data.AUTOTUNE)

    timed("in memory: from_tensor_slices().batch(1024)", lambda: _drain(workloads.dataset(wl, arrays).batch(workloads.BATCH)))
    timed("TFRecordDataset, batched 4096", lambda: _drain(records()))
    timed("+ parse_example per batch", lambda: _drain(parsed()))
    timed("+ unbatch + batch(1024)", lambda: _drain(parsed().unbatch().batch(workloads.BATCH)))
    timed("da.load(tfrecord).batch(1024) (+ column decoding)", lambda: _drain(da.load(work / "t").batch(workloads.BATCH)))
    timed("da.load(npy).batch(1024), for comparison", lambda: _drain(da.load(work / "n").batch(workloads.BATCH)))


def pathlist(wl: str, work: Path, timed) -> None:
    """Our pathlist read = index, read each file, check its header, decode_png; against Keras on PIL-written PNGs."""
    import keras  # noqa: F401  (its import is not the reader's cost)
    import tensorflow as tf

    import dataset_assets as da

    from . import baselines

    arrays = workloads.make_arrays("images", workloads.FULL_SIZES["images"])
    baselines.png_folder_write(arrays, work / "keras", "images")
    da.save(workloads.dataset("images", arrays), work / "pl", format="pathlist")
    files = sorted(str(p) for p in (work / "pl").rglob("*.png"))

    timed("image_dataset_from_directory (Keras)", lambda: _drain(baselines.keras_read(work / "keras", "images")))
    timed("list_files + map(read_file + decode_png)", lambda: _drain(baselines.png_parallel_read(work / "keras", "images")))
    timed("read_file only, 10,000 files", lambda: _drain(
        tf.data.Dataset.from_tensor_slices(files).map(tf.io.read_file, num_parallel_calls=tf.data.AUTOTUNE).batch(workloads.BATCH)))
    timed("da.load() alone (manifest, index, file checks)", lambda: da.load(work / "pl"))
    timed("da.load(pathlist).batch(1024), iterated", lambda: _drain(da.load(work / "pl").batch(workloads.BATCH)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.breakdown", description=__doc__.splitlines()[0])
    p.add_argument("target", choices=("tfdata", "tfrecord", "pathlist"))
    p.add_argument("--workload", default="numeric", choices=workloads.WORKLOADS)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dataset-assets-breakdown-"))
    print(f"{args.target} ({'images' if args.target == 'pathlist' else args.workload}), best of {args.repeat}:")
    try:
        globals()[args.target](args.workload, work, _timer(args.repeat))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
