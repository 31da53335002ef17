"""The benchmark peers (benchmarks/peers.py) give back the elements they were given, and the suite's parent imports neither.

ArrayRecord and Hugging Face `datasets` are in the `bench` and `test` extras, so CI runs these round
trips. No timing is asserted.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def test_parent_imports_no_peer():
    code = "import sys, benchmarks.run, benchmarks.random_access; print(sorted({'array_record', 'datasets', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _same(got, want) -> bool:
    import tensorflow as tf

    def plain(v):
        return v.to_list() if isinstance(v, tf.RaggedTensor) else np.asarray(v).tolist()

    def same(a, b) -> bool:
        if isinstance(a, tf.RaggedTensor) or isinstance(b, tf.RaggedTensor):
            return plain(a) == plain(b)
        return np.array_equal(np.asarray(a), np.asarray(b))  # values, shapes (and strings) compared by numpy, not as lists

    return set(got) == set(want) and all(same(got[k], want[k]) for k in want)


def _held() -> list[tuple[str, str]]:
    from benchmarks import methods

    return [(peer, w) for peer in ("array_record", "hf_datasets", "hf_to_tf") for w in methods.BY_NAME[peer].workloads]


@pytest.mark.parametrize("peer, workload", _held())  # only what each can hold: its note says why not the rest
def test_peer_round_trip(peer, workload, tmp_path):
    from benchmarks import methods, workloads

    method = methods.BY_NAME[peer]
    writer = methods.BY_NAME[method.reads_from or peer]
    arrays = workloads.make_arrays(workload, 2500)  # three batches, the last one short
    methods.resolve(writer.write)(arrays, tmp_path / "data", workload)
    got = list(methods.resolve(method.read)(tmp_path / "data", workload))
    want = list(workloads.dataset(workload, arrays).batch(workloads.BATCH))
    assert len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))


@pytest.mark.parametrize("workload", ["numeric", "mixed"])
def test_array_record_single_reads_decode_the_element(workload, tmp_path):
    from benchmarks import peers, random_access, workloads

    arrays = workloads.make_arrays(workload, 300)
    peers.array_record_write(arrays, tmp_path / "data", workload)
    for reader in ("array_record[i]", "array_record.read([i])"):
        read, unavailable = random_access._one_reader(reader, tmp_path / "data", workload)
        assert unavailable is None and random_access._same(read(217), random_access._expected(arrays, workload, 217))
