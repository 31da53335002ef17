"""`load(shuffle_seed=...)` and checkpoints: a global shuffle, new each epoch, and iterators that resume exactly in a new process."""

import json
import selectors
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import dataset_assets as da
from dataset_assets.selection import SelectionError, element_range

N = 61
GLOBAL = ("npy", "hdf5", "pathlist", "tfrecord")  # a uniform permutation; tfdata and compressed tfrecord: a shuffle buffer
SAVED = {**{fmt: {"format": fmt} for fmt in da.FORMATS}, "tfrecord_gzip": {"format": "tfrecord", "compression": "GZIP"}}


def _labelled(n=N):
    images = (np.arange(n)[:, None] % 251).astype(np.uint8).repeat(12, 1).reshape(n, 2, 2, 3)
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": np.arange(n, dtype=np.int64)})


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("shuffle")
    for name, options in SAVED.items():
        da.save(_labelled(), root / name, **options)
    return root


def _labels(dataset) -> list[int]:
    return [int(e["label"]) for e in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("fmt", sorted(SAVED))
def test_a_shuffled_load_holds_each_element_once_in_a_new_order_each_epoch(artifacts, fmt):
    loaded = da.load(artifacts / fmt, shuffle_seed=7)
    epochs = [_labels(loaded) for _ in range(3)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(N))
    assert epochs[0] != list(range(N)) and epochs[0] != epochs[1] != epochs[2]
    assert _labels(da.load(artifacts / fmt, shuffle_seed=7)) == epochs[0]  # the same seed, the same first epoch
    assert _labels(da.load(artifacts / fmt, shuffle_seed=8)) != epochs[0]
    assert int(loaded.cardinality()) == N


@settings(max_examples=40, deadline=None)
@given(
    fmt=st.sampled_from(sorted(SAVED)),
    split=st.sampled_from([None, "[:50%]", "[10:-10]", "[-7:]"]),
    shard=st.one_of(st.none(), st.integers(1, 5).flatmap(lambda k: st.tuples(st.just(k), st.integers(0, k - 1)))),
    seed=st.one_of(st.none(), st.integers(0, 2**63 - 1)),
)
def test_split_shard_and_shuffle_alone_and_combined_yield_exactly_the_selected_elements(artifacts, fmt, split, shard, seed):
    got = _labels(da.load(artifacts / fmt, split=split, shard=shard, shuffle_seed=seed))
    wanted = list(element_range(N, split, shard))
    assert (sorted(got) if seed is not None else got) == wanted


def test_the_global_shuffle_is_the_same_permutation_in_every_random_access_format(artifacts):
    orders = {fmt: _labels(da.load(artifacts / fmt, shuffle_seed=3)) for fmt in GLOBAL}
    assert len({tuple(o) for o in orders.values()}) == 1, orders


def test_the_global_shuffle_moves_every_element_anywhere(tmp_path):
    """Not a buffer: over epochs, the first element drawn comes from all over the artifact, also from its end."""
    da.save(tf.data.Dataset.range(2000), tmp_path / "x", format="npy")
    loaded = da.load(tmp_path / "x", shuffle_seed=1)
    firsts = [int(next(iter(loaded))) for _ in range(40)]
    assert max(firsts) > 1000 and len(set(firsts)) > 30


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "1", True])
def test_a_bad_seed_is_refused_before_anything_is_read(seed):
    with pytest.raises(SelectionError, match="shuffle_seed"):
        da.load("/nonexistent/never/read", shuffle_seed=seed)


_RESUME = """
import json, sys, traceback
import dataset_assets as da
import tensorflow as tf
print("ready", flush=True)
for request in sys.stdin:  # one checkpoint per line: [path, checkpoint, options]
    try:
        path, checkpoint, options = json.loads(request)
        iterator = iter(da.load(path, **options))
        tf.train.Checkpoint(iterator=iterator).read(checkpoint).assert_consumed()
        print(json.dumps({"rest": [int(e["label"]) for e in iterator]}), flush=True)
    except Exception:
        print(json.dumps({"error": traceback.format_exc()}), flush=True)
"""


class Resumer:
    """A fresh interpreter that resumes the checkpoints the tests write, one after the other.

    Never the process that wrote the checkpoint: the resumed iterator has only the artifact and the checkpoint
    file to go by. One process for every test of the module instead of one each (each import of TensorFlow
    costs 5-15 s); each request builds its own `load` and its own iterator from scratch.
    """

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", _RESUME], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self._line(300) == "ready"

    def _line(self, timeout: float) -> str:
        with selectors.DefaultSelector() as waiting:  # not select.select: it refuses descriptors past 1024
            waiting.register(self.proc.stdout, selectors.EVENT_READ)
            ready = waiting.select(timeout)
        assert ready, f"the resuming process gave no answer within {timeout} s"
        line = self.proc.stdout.readline()
        assert line, f"the resuming process exited with {self.proc.wait(10)}: {self.proc.stderr.read()[-2000:]}"
        return line.strip()

    def resume(self, path, checkpoint: str, options: dict) -> list[int]:
        self.proc.stdin.write(json.dumps([str(path), checkpoint, options]) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self._line(300))
        assert "error" not in answer, answer["error"][-2000:]
        return answer["rest"]

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def resumer():
    r = Resumer()
    yield r
    r.close()


@pytest.mark.parametrize("fmt", ["npy", "tfrecord", "tfrecord_gzip", "tfdata", "pathlist"])
@pytest.mark.parametrize("options", [{}, {"split": "[10%:90%]", "shard": [2, 1], "shuffle_seed": 5}], ids=["plain", "selected_shuffled"])
def test_a_checkpointed_iterator_resumes_with_the_next_element_in_a_new_process(artifacts, tmp_path, fmt, options, resumer):
    kwargs = {**options, **({"shard": tuple(options["shard"])} if "shard" in options else {})}
    iterator = iter(da.load(artifacts / fmt, **kwargs))
    seen = [int(next(iterator)["label"]) for _ in range(9)]
    checkpoint = tf.train.Checkpoint(iterator=iterator).write(str(tmp_path / "ckpt"))
    rest = [int(e["label"]) for e in iterator]
    assert resumer.resume(artifacts / fmt, checkpoint, options) == rest
    wanted = list(element_range(N, options.get("split"), kwargs.get("shard")))
    assert sorted(seen + rest) == wanted and len(rest) == len(wanted) - 9


def test_load_asset_and_recipes_pass_the_shuffle_through(artifacts, tmp_path):
    from dataset_assets.home import write_stamp

    write_stamp(artifacts / "npy")
    by_name = _labels(da.load_asset("npy", base_dir=artifacts, shuffle_seed=11, split="[:20]"))
    by_path = _labels(da.load(artifacts / "npy", shuffle_seed=11, split="[:20]", recipe={"steps": []}))
    assert by_name == by_path == _labels(da.load(artifacts / "npy", shuffle_seed=11, split="[:20]"))
    assert sorted(by_name) == list(range(20)) and by_name != list(range(20))
