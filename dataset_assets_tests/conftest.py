import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# before any test module imports TensorFlow: the library's first import of it keeps TensorFlow's
# C++ INFO lines (logged before absl is set up, whatever TF_CPP_MIN_LOG_LEVEL says) out of the output
import dataset_assets  # noqa: E402,F401
