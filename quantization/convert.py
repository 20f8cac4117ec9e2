"""Keras model -> `.tflite`: float32 for reference, full-integer int8 (int8 input and output) to ship.

The model is traced with a fixed [1, H, W, 1] input (a concrete function): with a dynamic batch XNNPACK
splits the graph and runs about twice as slowly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quantization.tfenv import keras, tf


def _export_graph(model):
    """The model up to its logits: the runtime applies the class softmax itself (`edge.core.engine.Engine`), so that
    the whole int8 graph runs in XNNPACK (LiteRT's own int8 softmax rounds differently on ARM than on x86) and
    every op maps to the Edge TPU (it takes no softmax this large)."""
    last = model.layers[-1]
    if isinstance(getattr(last, "layer", last), keras.layers.Softmax):  # QAT wraps each layer
        return keras.Model(model.input, model.layers[-2].output, name=model.name)
    return model


def _concrete(model):
    model = _export_graph(model)
    h, w = model.input_shape[1:3]
    fn = tf.function(lambda x: model(x, training=False))
    return fn.get_concrete_function(tf.TensorSpec([1, h, w, 1], tf.float32, name="image"))


def to_tflite(model, int8: bool = False, representative: np.ndarray | None = None, samples: int = 100) -> bytes:
    """Convert `model`; for int8, `representative` (N, H, W, 1) float images calibrate the ranges.

    A QAT model carries its own ranges; representative data then only fixes the input's.
    """
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_concrete(model)], model)
    if int8:
        if representative is None or len(representative) == 0:
            raise ValueError("int8 conversion needs representative images from the training set")
        rep = representative[:samples].astype(np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([img[None]] for img in rep)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def write_tflite(model, path: str | Path, int8: bool = False, representative: np.ndarray | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_tflite(model, int8, representative))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {'int8' if int8 else 'float32'})", flush=True)
    return path
