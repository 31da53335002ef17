"""Progress bars: shown when stderr is a terminal (a real pseudo-terminal here), off with --no-progress or the variable."""

import os
import pty
import subprocess
import sys

from .conftest import COMMAND


def _in_a_terminal(args, env, cwd=None) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal; (exit status, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env, text=True, cwd=cwd)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        shown += chunk
    out = proc.stdout.read()
    code = proc.wait(300)
    os.close(master)
    return code, out, shown.decode("utf-8", "replace")


def _env(home, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATASET_ASSETS_PROGRESS")}
    return {**env, "DATASET_ASSETS_HOME": str(home), "DATASET_ASSETS_PROGRESS_DELAY": "0", **extra}


def test_verify_in_a_terminal_shows_a_bar_with_the_count_and_no_bar_when_asked(home, npy_artifact):
    code, out, shown = _in_a_terminal([str(COMMAND), "verify", "digits"], _env(home))
    assert code == 0 and ": OK" in out, (out, shown)
    assert "verify" in shown and "/60" in shown and "el/s" in shown, shown
    assert "oneDNN" not in shown and "cpu_feature_guard" not in shown

    for args, env in (([str(COMMAND), "--no-progress", "verify", "digits"], _env(home)), ([str(COMMAND), "verify", "digits"], _env(home, DATASET_ASSETS_PROGRESS="0"))):
        code, out, shown = _in_a_terminal(args, env)
        assert code == 0 and ": OK" in out
        assert "/60" not in shown and "el/s" not in shown, shown


def test_a_save_in_a_terminal_shows_a_bar_and_outside_one_prints_nothing(home):
    code = "import dataset_assets as da, tensorflow as tf; da.save(tf.data.Dataset.range(5000), 'out', format='tfrecord')"
    status, _, shown = _in_a_terminal([sys.executable, "-c", code], _env(home), cwd=home)
    assert status == 0, shown
    assert "save tfrecord" in shown and "/5.00k" in shown, shown
    proc = subprocess.run([sys.executable, "-c", code.replace("'out'", "'out2'")], env=_env(home), capture_output=True, text=True, timeout=300, cwd=home)
    assert proc.returncode == 0 and "save tfrecord" not in proc.stderr and "5.00k" not in proc.stderr, proc.stderr
