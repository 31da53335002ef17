"""A full disk during a save, in every format: a clean `StorageFullError` (an OSError with errno ENOSPC),
never a crash, and the previous version still loads. A real 20 MB tmpfs; the save runs in a child process
so a crash inside libhdf5 shows as a signal rather than taking the test run down."""

import subprocess

import pytest

import dataset_assets as da
from dataset_assets_tests.hostile.conftest import assert_clean_exit, run_child

SAVE = """
import errno, sys
import numpy as np
import tensorflow as tf
import dataset_assets as da

rng = np.random.default_rng(1)
big = tf.data.Dataset.from_tensor_slices({{"image": rng.integers(0, 256, (600, 128, 128, 3), dtype=np.uint8), "label": np.arange(600)}})
try:
    da.save(big, {path!r}, format={fmt!r}, overwrite=True)
except da.StorageFullError as e:
    assert isinstance(e, OSError) and e.errno == errno.ENOSPC, repr(e)
    print("full:", e)
else:
    sys.exit("a 30 MB save fitted on a 20 MB disk?")
"""


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:  # no skip: this test is the proof, so a machine that cannot run it fails it
        pytest.fail(f"cannot mount a 20 MB tmpfs for the full-disk test (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_gives_a_clean_error_and_keeps_the_previous_version(small_disk, fmt):
    from dataset_assets_tests.hostile.conftest import images

    path = small_disk / "art"
    old = da.save(images(), path, format=fmt)
    proc = run_child(SAVE.format(path=str(path), fmt=fmt), timeout=300)
    assert_clean_exit(proc)
    assert "full:" in proc.stdout, proc.stdout
    assert [v.id for v in da.versions(path)] == [old.version]
    report = da.verify(path, images())
    assert report.ok, report.problems
    from dataset_assets_tests.helpers import assert_same_elements

    assert_same_elements(da.load(path), images())
    leftovers = sorted(p.name for p in (path / "versions").iterdir())
    assert leftovers == [old.version], leftovers  # the failed save removed what it wrote
