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
