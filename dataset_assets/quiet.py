"""Keep TensorFlow's C++ INFO lines (oneDNN, CPU features) out of every command, the demo and the examples.

TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported, so this must run before that:
`dataset_assets/__init__.py` calls it first thing. `setdefault`: a user who sets the variable keeps
their value (TF_CPP_MIN_LOG_LEVEL=0 brings the INFO lines back); warnings and errors still show.

The variable is not enough on its own: TensorFlow 2.17 and later log through absl, and what they log
while loading, before absl is initialized, goes to stderr whatever the level (on CPUs with AVX-512
VNNI or AMX, "oneDNN custom operations are on", twice per process; tensorflow#102212). So the first
import of TensorFlow runs with file descriptor 2 sent to a temporary file, and the lines the level
hides are dropped from it; every other line is written back, in order, once the import is done.
The alternative, TF_ENABLE_ONEDNN_OPTS=0, would silence the line by turning oneDNN off, which
changes the speed and the numerics of the user's own training: not ours to decide.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

TF_LOG_ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "1"  # 1: no INFO; 2 would hide warnings too
_SEVERITIES = "IWEF"  # absl's line prefixes, in TF_CPP_MIN_LOG_LEVEL order
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# e.g. "I0000 00:00:1796317217.409172    2861 port.cc:153] oneDNN custom operations are on. ..."
_ABSL_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+ +\d+ [^\]]+\] ")


def quiet_tensorflow() -> None:
    os.environ.setdefault(TF_LOG_ENV, DEFAULT_LEVEL)
    if "tensorflow" in sys.modules:
        return  # imported before us: what it printed is already out
    level = _level()
    if level < 1:
        return
    with stderr_without_lines_below(level):
        import tensorflow  # noqa: F401


def _level() -> int:
    try:
        return int(os.environ.get(TF_LOG_ENV, DEFAULT_LEVEL))
    except ValueError:
        return int(DEFAULT_LEVEL)


def hidden(line: bytes, level: int) -> bool:
    """Whether a line TensorFlow wrote while loading is below `level` (or absl's preamble to such lines)."""
    text = line.rstrip(b"\r\n")
    if text == _ABSL_PREAMBLE:
        return True
    match = _ABSL_LINE.match(text)
    return bool(match) and _SEVERITIES.index(match.group(1).decode()) < level


@contextlib.contextmanager
def stderr_without_lines_below(level: int):
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield  # no usable stderr (closed, or replaced by an object without a file): nothing to filter
        return
    # A file, not a pipe: nothing reads while TensorFlow loads, and a pipe's buffer could fill and block it.
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = b"".join(line for line in capture.read().splitlines(keepends=True) if not hidden(line, level))
            if kept:
                os.write(2, kept)
