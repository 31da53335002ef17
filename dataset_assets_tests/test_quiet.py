"""The demo prints no TensorFlow INFO lines (oneDNN, CPU features) for a user who set no log level."""

import os
import re
import subprocess
import sys

TF_INFO = re.compile(r"^[IW]\d{4} |oneDNN|cpu_feature_guard|default buffer size", re.M)


def test_the_demo_prints_no_tensorflow_info_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "dataset_assets.demo", "--out", str(tmp_path / "demo")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tfrecord" in proc.stdout
    assert not TF_INFO.search(proc.stderr) and not TF_INFO.search(proc.stdout), proc.stderr[-3000:]


def test_tensorflow_info_lines_come_back_with_level_zero(tmp_path):
    # The filter hides only what the level hides: a user who asks for INFO lines gets TensorFlow's own.
    code = "import dataset_assets, tensorflow as tf; print(tf.constant(2) + 1)"
    quiet = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"}, capture_output=True, text=True, timeout=300)
    loud = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert "3" in quiet.stdout and not TF_INFO.search(quiet.stderr), quiet.stderr
    assert re.search(r"^I\d{4} ", loud.stderr, re.M), loud.stderr  # TensorFlow logs INFO lines while loading on every CPU


def test_the_stderr_filter_drops_only_lines_below_the_level_and_keeps_the_order():
    code = (
        "import os\n"
        "from dataset_assets.quiet import stderr_without_lines_below\n"
        "with stderr_without_lines_below(1):\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1796317217.409172    2861 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "    os.write(2, b'first\\n')\n"
        "    os.write(2, b'W0000 00:00:1796317217.5    2861 loader.cc:1] a warning stays\\n')\n"
        "    print('second', file=__import__('sys').stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["first", "W0000 00:00:1796317217.5    2861 loader.cc:1] a warning stays", "second"]
