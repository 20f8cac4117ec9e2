"""Import TensorFlow the one way QAT works: legacy Keras (tf_keras) selected before TensorFlow loads."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import tensorflow as tf
    import tf_keras as keras
except ModuleNotFoundError as exc:  # a ModuleNotFoundError naming the module, which `tlfseg` reports in one line
    raise ModuleNotFoundError(
        f"the training pipeline needs the train extra ({exc.name} is missing): pip install 'tlfseg[train]'",
        name=exc.name,
    ) from exc

__all__ = ["tf", "keras"]
