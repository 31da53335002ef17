"""Keep TensorFlow's C++ INFO lines (oneDNN, CPU features) out of every command, the demo and the examples.

TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported, so this must run before that:
`dataset_assets/__init__.py` calls it first thing. `setdefault`: a user who sets the variable keeps
their value (TF_CPP_MIN_LOG_LEVEL=0 brings the INFO lines back); warnings and errors still show.
"""

import os

TF_LOG_ENV = "TF_CPP_MIN_LOG_LEVEL"


def quiet_tensorflow() -> None:
    os.environ.setdefault(TF_LOG_ENV, "1")  # 1: no INFO; 2 would hide warnings too
