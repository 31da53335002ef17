"""Python callables inside tf.data pipelines that live as long as their pipeline, not as long as the process.

TensorFlow keeps a strong reference to every `numpy_function`/`py_function` callable in the
outermost graph; in eager mode that is the process-wide default graph, which is never freed
(tensorflow/tensorflow#123269, fixed upstream by PR #123530, not in TF 2.21). The readers'
callables hold open files and checked block caches, so every `load` left its file descriptors
and up to `RANDOM_CACHE_BYTES` of blocks behind for the life of the process: two descriptors
per npy load, until a long test run passed the 1024 descriptors that `select()` accepts.

Traced inside a function graph (the function of a `Dataset.map`), the callable is moved to that
graph's list instead, as the upstream fix does: the graph belongs to the dataset's traced
function, so the callable lives as long as the dataset object and every iterator made from it
(an iterator holds its dataset). Called eagerly, nothing is moved: there is no graph to tie to.
`Dataset.from_generator` traces its own callables, out of reach: `from_generator` here hands back
a `release` that empties them instead.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf
from tensorflow.python.framework import func_graph, ops

_HELD = "_py_funcs_used_in_graph"  # where TF keeps the strong reference (script_ops._internal_py_func)


def numpy_function(func: Callable, inp: list, tout, stateful: bool = False):
    """`tf.numpy_function`, the callable held by the function graph it is traced in."""
    call = _fresh(func)
    out = tf.numpy_function(call, inp, tout, stateful=stateful)
    _hold_in_function_graph(call)
    return out


def py_function(func: Callable, inp: list, tout):
    """`tf.py_function`, the callable held by the function graph it is traced in."""
    call = _fresh(func)
    out = tf.py_function(call, inp, tout)
    _hold_in_function_graph(call)
    return out


def from_generator(generator: Callable, output_signature) -> tuple[tf.data.Dataset, Callable[[], None]]:
    """`Dataset.from_generator`, and `release()`, which lets go of `generator` once the dataset has done its work.

    TF keeps from_generator's callables for the life of the process too, and they hold `generator`
    with all it refers to: for tfdata's save, the whole source pipeline, its iterator's threads and,
    after a failed save, the error and its traceback. After `release()` they hold an empty box, and
    iterating the dataset again raises.
    """
    box = [generator]

    def call():
        if not box:
            raise RuntimeError("dataset_assets: this dataset's generator was released after its one use; build the dataset again")
        return box[0]()

    return tf.data.Dataset.from_generator(call, output_signature=output_signature), box.clear


def _fresh(func: Callable) -> Callable:
    # A new function object for each call, so that the entry TF registers for it is found by identity:
    # TF sets `ag_dnc_wrapper__` on plain functions (not on bound methods) to the very object it holds.
    def call(*args):
        return func(*args)

    return call


def _hold_in_function_graph(call: Callable) -> None:
    held = getattr(call, "ag_dnc_wrapper__", None)
    here = ops.get_default_graph()
    if held is None or not isinstance(here, func_graph.FuncGraph):
        return
    outer = here
    while isinstance(outer, func_graph.FuncGraph):  # as TF climbs: to the graph it appended to
        outer = outer.outer_graph
    entries = getattr(outer, _HELD, [])
    if not any(entry is held for entry in entries):
        return  # a TensorFlow that holds it elsewhere already (the upstream fix)
    if not hasattr(here, _HELD):
        setattr(here, _HELD, [])
    getattr(here, _HELD).append(held)  # held by the function graph first, then let go of by the outer one
    try:
        entries.remove(held)  # one call, by identity (functions compare so): safe beside other threads tracing
    except ValueError:
        pass
