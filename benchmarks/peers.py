"""Peers: other libraries that store ML datasets, written and read the way their documentation shows.

ArrayRecord (`array-record`) and Hugging Face `datasets`, each given the workload's arrays and
read back as a tf.data pipeline batched by `BATCH`. Imported only in a measuring child process
(both libraries are in the `bench` extra, not a dependency of the library).

- ArrayRecord stores one record per element. Fixed-shape workloads (numeric, images): the
  element's fields as raw bytes, one NumPy structured row (no encoder is faster, and it decodes
  with one np.frombuffer per batch). mixed (ragged tokens, variable names): a serialized
  tf.train.Example, the record TF users store for such data, parsed batched with parse_example.
  Writer options are the library's defaults (group_size:1, zstd:3), which random access needs.
- `datasets` holds every workload as Arrow columns (fixed-size lists, Array3D for images, a
  list column for the ragged tokens, binary for names), built from NumPy without Python lists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from .baselines import _PARSE_SPECS, _example
from .workloads import BATCH, make_arrays, dataset

ARRAY_RECORD_FILE = "data.array_record"
_CHUNK = 65_536  # rows turned into bytes objects at a time, so the write holds one chunk of them


def _batched_spec(workload: str):
    """The element_spec of the workload's dataset, batched (the output signature of a generator of batches)."""
    return dataset(workload, make_arrays(workload, 2)).batch(BATCH).element_spec


def _batches(n: int):
    return ((a, min(a + BATCH, n)) for a in range(0, n, BATCH))


# --- ArrayRecord ---------------------------------------------------------------------------------

def row_dtype(workload: str) -> np.dtype:
    """One element of a fixed-shape workload as a NumPy structured row: its fields' bytes side by side."""
    return np.dtype([(k, a.dtype, a.shape[1:]) for k, a in make_arrays(workload, 1).items()])


def _records(arrays: dict, workload: str):
    """The records to write, a chunk at a time: raw rows (bytes objects made by one tolist) or Examples."""
    n = len(next(iter(arrays.values())))
    if workload == "mixed":
        ends = np.cumsum(arrays["tokens_lengths"])
        tokens = np.split(arrays["tokens_values"], ends[:-1])
        for vec, id_, tok, name in zip(arrays["vec"], arrays["id"], tokens, arrays["name"]):
            yield [_example(workload, {"vec": vec, "id": id_, "tokens": tok, "name": name}).SerializeToString()]
        return
    dtype = row_dtype(workload)
    for a in range(0, n, _CHUNK):
        rows = np.empty(min(n - a, _CHUNK), dtype)
        for k in dtype.names:
            rows[k] = arrays[k][a : a + len(rows)]
        yield rows.view(np.dtype((np.void, dtype.itemsize))).tolist()


def array_record_write(arrays: dict, path: Path, workload: str) -> None:
    """ArrayRecordWriter has no batched write: one write() per record is its API."""
    from array_record.python.array_record_module import ArrayRecordWriter

    path.mkdir()
    writer = ArrayRecordWriter(str(path / ARRAY_RECORD_FILE))
    for chunk in _records(arrays, workload):
        for record in chunk:
            writer.write(record)
    writer.close()


def decode_rows(records: list[bytes], workload: str) -> dict:
    """Raw rows -> the element's fields, batched (views into one joined buffer)."""
    rows = np.frombuffer(b"".join(records), row_dtype(workload))
    return {k: rows[k] for k in rows.dtype.names}


def example_numpy(record: bytes) -> dict:
    """One serialized mixed Example -> its element as NumPy values (the random-access decode)."""
    f = tf.train.Example.FromString(record).features.feature
    return {"vec": np.array(f["vec"].float_list.value, np.float32), "id": np.int64(f["id"].int64_list.value[0]),
            "tokens": np.array(f["tokens"].int64_list.value, np.int64), "name": f["name"].bytes_list.value[0]}


def parse_examples(records):
    """A batch of serialized mixed Examples -> the mixed structure (tokens ragged), in the graph."""
    e = tf.io.parse_example(records, _PARSE_SPECS["mixed"])
    return {"vec": e["vec"], "id": e["id"], "tokens": tf.RaggedTensor.from_sparse(e["tokens"]), "name": e["name"]}


def array_record_read(path: Path, workload: str) -> tf.data.Dataset:
    """Range reads (reader.read(start, end): one call per batch, read ahead in C++) feeding from_generator."""
    from array_record.python.array_record_module import ArrayRecordReader

    file = str(path / ARRAY_RECORD_FILE)

    def batches():
        reader = ArrayRecordReader(file)
        for a, b in _batches(reader.num_records()):
            records = reader.read(a, b)
            yield records if workload == "mixed" else decode_rows(records, workload)
        reader.close()

    if workload == "mixed":
        ds = tf.data.Dataset.from_generator(batches, output_signature=tf.TensorSpec([None], tf.string))
        return ds.map(parse_examples, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return tf.data.Dataset.from_generator(batches, output_signature=_batched_spec(workload)).prefetch(tf.data.AUTOTUNE)


# --- Hugging Face datasets -----------------------------------------------------------------------

def _arrow(values: np.ndarray):
    """A NumPy array as an Arrow array without Python lists (nested fixed-size lists for ndim > 1): from_dict
    given a 2-D NumPy array goes through per-row lists, 7x slower here (numeric, 100,000 rows)."""
    import pyarrow as pa

    arrow = pa.array(values.reshape(-1))
    for size in reversed(values.shape[1:]):
        arrow = pa.FixedSizeListArray.from_arrays(arrow, size)
    return arrow


def _hf_columns(arrays: dict, workload: str) -> tuple[dict, object]:
    import datasets
    import pyarrow as pa

    if workload == "mixed":
        offsets = np.concatenate([[0], np.cumsum(arrays["tokens_lengths"])]).astype(np.int32)
        columns = {"vec": _arrow(arrays["vec"]), "id": arrays["id"], "name": pa.array(arrays["name"], pa.binary()),
                   "tokens": pa.ListArray.from_arrays(pa.array(offsets), pa.array(arrays["tokens_values"]))}
        features = {"vec": datasets.Sequence(datasets.Value("float32"), length=16), "id": datasets.Value("int64"),
                    "tokens": datasets.Sequence(datasets.Value("int64")), "name": datasets.Value("binary")}
    else:
        key = "features" if workload == "numeric" else "image"
        columns = {key: _arrow(arrays[key]), "label": arrays["label"]}
        big = datasets.Sequence(datasets.Value("float32"), length=64) if workload == "numeric" else datasets.Array3D((64, 64, 3), "uint8")
        features = {key: big, "label": datasets.Value("int64")}
    return columns, datasets.Features(features)


def hf_write(arrays: dict, path: Path, workload: str) -> None:
    import datasets

    datasets.disable_progress_bars()
    columns, features = _hf_columns(arrays, workload)
    datasets.Dataset.from_dict(columns, features=features).save_to_disk(str(path))


def hf_to_tf_read(path: Path, workload: str) -> tf.data.Dataset:
    """The documented TF route. Its default collator np.stack's each column: no ragged tokens, no binary names."""
    import datasets

    return datasets.load_from_disk(str(path)).to_tf_dataset(batch_size=BATCH, shuffle=False)


def hf_numpy_read(path: Path, workload: str) -> tf.data.Dataset:
    """with_format("numpy").iter(batch_size): one Arrow slice per batch. Its formatter widens every integer
    column to int64 (images included), so each batch is cast back to the declared dtype."""
    import datasets

    spec = _batched_spec(workload)
    table = datasets.load_from_disk(str(path)).with_format("numpy")

    def batches():
        for batch in table.iter(batch_size=BATCH):
            out = {k: v if spec[k].dtype == tf.string else v.astype(spec[k].dtype.as_numpy_dtype, copy=False)
                   for k, v in batch.items() if k != "tokens"}
            if workload == "mixed":
                out["tokens"] = tf.RaggedTensor.from_row_lengths(np.concatenate(batch["tokens"]), np.fromiter(map(len, batch["tokens"]), np.int64))
            yield out

    return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(tf.data.AUTOTUNE)
