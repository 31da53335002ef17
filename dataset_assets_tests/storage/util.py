"""Helpers of the storage tests: small datasets every format holds, a look at storage through a fresh fsspec
filesystem (never a cached listing), damage, and element-wise comparison of what a reader yielded."""

from __future__ import annotations

import hashlib
import time

import fsspec
from fsspec.implementations.local import LocalFileSystem
import numpy as np
import tensorflow as tf

from dataset_assets_tests.helpers import leaves

FORMATS = ("npy", "hdf5", "pathlist", "tfrecord", "tfdata")
WRITER_TIMEOUT = "2"  # DATASET_ASSETS_WRITER_TIMEOUT of the writer processes, and of this one where a test judges abandonment
GENERAL = ("npy", "hdf5", "tfrecord", "tfdata")


# --- datasets ---------------------------------------------------------------------------------------


def image_arrays(seed: int = 0, n: int = 40, size: int = 8):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 1_000_000, n).astype(np.int64)


def images(seed: int = 0, n: int = 40, size: int = 8) -> tf.data.Dataset:
    """{"image": uint8 [size, size, 3], "label": int64}: held by all five formats; `seed` makes versions differ."""
    imgs, labels = image_arrays(seed, n, size)
    return tf.data.Dataset.from_tensor_slices({"image": imgs, "label": labels})


def slow_images(seed: int = 0, n: int = 40, size: int = 8, delay: float = 0.01) -> tf.data.Dataset:
    """The same elements as `images(seed, n, size)`, produced one by one with `delay` seconds each (a slow source)."""
    imgs, labels = image_arrays(seed, n, size)

    def gen():
        for i in range(n):
            time.sleep(delay)
            yield {"image": imgs[i], "label": labels[i]}

    signature = {"image": tf.TensorSpec([size, size, 3], tf.uint8), "label": tf.TensorSpec([], tf.int64)}
    return tf.data.Dataset.from_generator(gen, output_signature=signature)


def nested(seed: int = 0, n: int = 12) -> tf.data.Dataset:
    """Nested dict/tuple, strings, float64, a variable-length leaf and a ragged leaf (not for pathlist)."""
    rng = np.random.default_rng(seed)
    pool = [b"", b"a", b"\xff\xfe\x00bytes", "gr\u00fc\u00dfe".encode(), b"x" * 40]
    strings = np.array([pool[i] for i in rng.integers(0, len(pool), n)], dtype=object)
    lengths = rng.integers(0, 4, n)
    variable = tf.data.Dataset.from_tensor_slices(
        tf.RaggedTensor.from_row_lengths(rng.standard_normal(int(lengths.sum())).astype(np.float32), lengths)
    ).map(lambda x: x)  # dense elements of varying length
    ragged = tf.data.Dataset.from_tensor_slices(
        tf.RaggedTensor.from_row_lengths(rng.integers(-50, 50, int(lengths.sum()) * 2).astype(np.int32).reshape(-1), lengths * 2)
    )
    plain = tf.data.Dataset.from_tensor_slices(
        {"a": (rng.integers(-9, 9, (n, 3)).astype(np.int32), {"s": strings, "f": rng.standard_normal(n)}), "b": rng.integers(0, 2, n).astype(bool)}
    )
    return tf.data.Dataset.zip({"plain": plain, "var": variable, "tokens": ragged})


# --- storage, seen through a fresh filesystem ----------------------------------------------------------


_FILESYSTEMS: dict = {}
S3_OPTIONS: dict = {}  # set by the s3_server fixture: the tests reach moto whatever the environment


def fs_of(location):
    """(filesystem, root) of a local path or URL, with every listing cache dropped: what storage holds now.

    The tests' own instances (one per protocol and endpoint), never the library's: a fresh s3fs instance costs
    ~0.5 s (botocore session), so ours are kept and their caches invalidated on every call.
    """
    location = str(location)
    protocol = fsspec.core.split_protocol(location)[0] or "file"
    options = dict(S3_OPTIONS) if protocol in ("s3", "s3a") else {}
    key = (protocol, repr(sorted(options.items())))
    fs = _FILESYSTEMS.get(key)
    if fs is None:
        fs = _FILESYSTEMS[key] = fsspec.filesystem(protocol, skip_instance_cache=True, **options)
    fs.invalidate_cache()
    return fs, fs._strip_protocol(location).rstrip("/")


def join(location, *parts: str) -> str:
    return "/".join([str(location).rstrip("/"), *parts])


def files_under(location) -> dict[str, bytes]:
    """Every file below `location` (relative POSIX path -> content)."""
    fs, root = fs_of(location)
    if not fs.exists(root):
        return {}
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in fs.find(root)}


def names_under(location) -> set[str]:
    fs, root = fs_of(location)
    return {p[len(root) + 1 :] for p in fs.find(root)} if fs.exists(root) else set()


def exists(location) -> bool:
    fs, root = fs_of(location)
    return fs.exists(root)


def read_bytes(location) -> bytes:
    fs, root = fs_of(location)
    return fs.cat_file(root)


def write_bytes(location, data: bytes) -> None:
    fs, root = fs_of(location)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(root), exist_ok=True)
    fs.pipe_file(root, data)


def delete(location) -> None:
    fs, root = fs_of(location)
    fs.rm(root, recursive=True)


def copy_tree(source, target) -> None:
    """Copy every file below `source` to the same relative place below `target` (any filesystems)."""
    for rel, data in files_under(source).items():
        write_bytes(join(target, rel), data)


def flip_byte(location, offset: int | None = None) -> int:
    """XOR one byte (default: the middle one) of the file at `location`; returns the offset."""
    data = bytearray(read_bytes(location))
    assert data, f"{location} is empty"
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    write_bytes(location, bytes(data))
    return offset


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- what a reader yielded ----------------------------------------------------------------------------


def element_bytes(element) -> list:
    """A comparable form of one element: its leaves, as bytes/lists."""
    out = []
    for leaf in leaves(element):
        if isinstance(leaf, np.ndarray):
            out.append((leaf.dtype.str, leaf.shape, leaf.tolist() if leaf.dtype == object else leaf.tobytes()))
        else:
            out.append(leaf)
    return out


def elements(dataset: tf.data.Dataset) -> list:
    return [element_bytes(e) for e in dataset]


def drain(make):
    """Call `make()` (which returns a dataset) and iterate it; (elements yielded, the exception raised or None)."""
    got = []
    try:
        for e in make():
            got.append(element_bytes(e))
    except Exception as e:  # noqa: BLE001 - the caller asserts on the type
        return got, e
    return got, None


def assert_prefix(got: list, expected) -> None:
    """Every element yielded before an error equals the original element at that index (`expected`: a dataset or
    the list `elements` made of it)."""
    want = expected if isinstance(expected, list) else elements(expected)
    assert len(got) <= len(want), f"{len(got)} elements yielded, the original has {len(want)}"
    for i, g in enumerate(got):
        assert g == want[i], f"element {i} was yielded but differs from the original"


def assert_elements_equal(got: list, want: list, what: str = "the reader") -> None:
    assert len(got) == len(want), f"{what} yielded {len(got)} elements, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"{what}: element {i} differs from the version it was opened on"


def tree_size(directory) -> int:
    """Bytes on disk of the regular files below a local directory (a file with several hard links counts once)."""
    from pathlib import Path

    sizes = {}
    for p in Path(directory).rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            sizes[(st.st_dev, st.st_ino)] = st.st_size
    return sum(sizes.values())


def children(location) -> set[str]:
    """Names directly below `location` (files and folders; on object stores, the common prefixes)."""
    fs, root = fs_of(location)
    if not fs.exists(root):
        return set()
    return {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)}


# --- saves in progress ----------------------------------------------------------------------------------


def uncommitted(path: str, committed: set[str]) -> set[str]:
    """Files below `path` that belong to no committed version: leases and folders of other versions."""
    out = set()
    for name in names_under(path):
        parts = name.split("/")
        if parts[0] == "writers" or (parts[0] == "versions" and parts[1] not in committed):
            out.add(name)
    return out


def wait_until_writing(child, path: str, committed: set[str], ignore: set[str] = frozenset(), timeout: float = 90) -> set[str]:
    """Wait until the save of `child` shows at `path` (a lease or a version folder, beyond the names in `ignore`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        debris = uncommitted(path, committed) - set(ignore)
        if debris:
            return debris
        if not child.alive():
            raise AssertionError(f"the writer ended before anything of its save appeared at {path}: {child.wait()}")
        time.sleep(0.05)
    child.kill()
    raise AssertionError(f"after {timeout} s the slow save had written no lease and no version folder at {path}")
