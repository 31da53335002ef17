"""Every method measured: the library's formats and the baselines, with what each can hold.

Imports of TensorFlow and the library happen inside the functions, in the measuring child
process, so the parent that plans and reports stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .workloads import WORKLOADS

IMAGES_ONLY = ("images",)
FIXED_SHAPE = ("numeric", "images")


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "ours", "baseline" or "peer" (another library's format)
    workloads: tuple[str, ...] = WORKLOADS
    write: str | None = None  # "module:function" taking (source, path, workload)
    read: str | None = None  # "module:function" taking (path or arrays, workload) -> batched dataset
    source: str = "dataset"  # what write() is given: the unbatched "dataset" or the raw "arrays"
    reads_from: str | None = None  # read the files another method wrote (same workload)
    imports: tuple[str, ...] = ()  # modules imported before the clock starts (a one-off cost per process)
    note: str = ""

    @property
    def reads_arrays(self) -> bool:
        return self.read is not None and self.write is None and self.reads_from is None


OURS = ("npy", "hdf5", "tfrecord", "tfdata", "pathlist")

METHODS = [
    *(
        Method(f, "ours", IMAGES_ONLY if f == "pathlist" else WORKLOADS, "benchmarks.methods:ours_write", "benchmarks.methods:ours_read")
        for f in OURS
    ),
    Method("in_memory", "baseline", read="benchmarks.baselines:in_memory_read", note="from_tensor_slices(arrays).batch: read ceiling"),
    Method("np_save", "baseline", write="benchmarks.baselines:np_save_write", read="benchmarks.baselines:np_load_read", source="arrays",
           note="np.save per array: write ceiling; np.load + from_tensor_slices on read"),
    Method("np_save_ds", "baseline", write="benchmarks.baselines:np_save_from_dataset_write", read="benchmarks.baselines:np_load_read",
           note="ds.batch(all) then np.save: np.save starting from the same Dataset"),
    Method("tf_save", "baseline", write="benchmarks.baselines:tf_save_write", read="benchmarks.baselines:tf_load_read",
           note="tf.data.Dataset.save / load of the unbatched dataset"),
    Method("example_loop", "baseline", write="benchmarks.baselines:example_loop_write", read="benchmarks.baselines:example_parse_read",
           note="Python loop of tf.train.Example; map(parse_single_example)"),
    Method("h5_generator", "baseline", write="benchmarks.baselines:h5_write", read="benchmarks.baselines:h5_generator_read", source="arrays",
           note="h5py create_dataset; from_generator over the rows"),
    Method("keras_png", "baseline", IMAGES_ONLY, write="benchmarks.baselines:png_folder_write", read="benchmarks.baselines:keras_read",
           source="arrays", imports=("keras",), note="PIL loop into class folders; keras image_dataset_from_directory"),
    Method("png_parallel", "baseline", IMAGES_ONLY, read="benchmarks.baselines:png_parallel_read", reads_from="keras_png",
           note="the same PNG files: list_files + map(decode_png, AUTOTUNE)"),
    Method("array_record", "peer", write="benchmarks.peers:array_record_write", read="benchmarks.peers:array_record_read", source="arrays",
           imports=("array_record.python.array_record_module",),
           note="ArrayRecordWriter (defaults: group_size:1, zstd:3), one record per element: numeric/images a raw row "
                "(np.frombuffer per batch), mixed a tf.train.Example (parse_example per batch); reader.read(start, end) per batch into from_generator"),
    Method("hf_datasets", "peer", write="benchmarks.peers:hf_write", read="benchmarks.peers:hf_numpy_read", source="arrays",
           imports=("datasets",), note="Dataset.from_dict(Arrow columns) + save_to_disk; load_from_disk.with_format('numpy').iter(batch_size) "
                                       "into from_generator (ints widened to int64 by datasets, cast back): its fastest TF route here"),
    Method("hf_to_tf", "peer", FIXED_SHAPE, read="benchmarks.peers:hf_to_tf_read", reads_from="hf_datasets", imports=("datasets",),
           note="the same files: load_from_disk.to_tf_dataset(batch_size); images come out int64; mixed not held: its default "
                "collator np.stack's the ragged tokens and rejects the binary names"),
]
BY_NAME = {m.name: m for m in METHODS}


def format_available(name: str) -> bool:
    """Whether the library's format module (or package) exists yet (formats land one by one); a file check, so the parent never imports TF."""
    formats = Path(__file__).resolve().parents[1] / "dataset_assets" / "formats"
    return (formats / f"{name}.py").is_file() or (formats / name / "__init__.py").is_file()


def peer_missing(method: Method) -> str | None:
    """The package a peer needs that is not installed (find_spec of the top-level name imports nothing), else None."""
    for module in method.imports:
        top = module.partition(".")[0]
        if importlib.util.find_spec(top) is None:
            return top
    return None


def resolve(ref: str):
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


def ours_write(ds, path, workload, format_name):
    import dataset_assets as da

    da.save(ds, path, format=format_name)


def ours_read(path, workload, format_name):
    import dataset_assets as da

    from .workloads import BATCH

    return da.load(path).batch(BATCH)
