"""A trainable Keras U-Net from a float32 .tflite twin: the bundled model's weights, without shipping a Keras file.

The converter folds each BatchNormalization into the convolution before it (kernel scaled, a bias added) and keeps
the layers' names in the tensors' names (`.../enc0_conv1/Conv2D`, `...;.../enc0_bn1/FusedBatchNormV3;...`). Rebuilt
with the same architecture, each convolution takes its folded kernel and each BatchNormalization becomes the folded
bias (gamma 1, beta the bias, moving mean 0, moving variance 1 - epsilon): the same function in inference mode. Fine-
tuning keeps those BatchNormalizations frozen (inference mode), which is also what a few images call for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quantization.tfenv import keras
from quantization.unet import build_unet


def _tensors(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of the model by name (the interpreter's copy: the file's own bytes)."""
    from edge.core.interpreter import make_interpreter

    interpreter, _ = make_interpreter(str(path), threads=1)
    out = {}
    for d in interpreter.get_tensor_details():
        try:
            out[d["name"]] = interpreter.get_tensor(d["index"])
        except ValueError:  # an activation: no data before inference
            continue
    return out


def _find(tensors: dict[str, np.ndarray], part: str, rank: int) -> np.ndarray:
    """The one tensor of `rank` whose name holds `part` as one of its `;`-separated names' path."""
    hits = [v for k, v in tensors.items() if v.ndim == rank and any(n.endswith(part) for n in k.split(";"))]
    if len(hits) != 1:
        raise ValueError(f"{len(hits)} tensors named like {part!r} (rank {rank}): not this architecture's twin")
    return hits[0]


def keras_from_tflite(path: str | Path, base_filters: int, input_size: tuple[int, int], stem: int):
    """The U-Net (`build_unet`) with the float32 twin's weights; ValueError where the twin is not this network."""
    path = Path(path)
    tensors = _tensors(path)
    model = build_unet(base_filters, tuple(input_size), stem=stem)
    prefix = model.name
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = _find(tensors, f"{prefix}/{layer.name}/Conv2D", 4).transpose(1, 2, 3, 0)  # OHWI -> HWIO
            weights = [kernel]
            if layer.use_bias:
                weights.append(_find(tensors, f"{prefix}/{layer.name}/BiasAdd", 1))
            layer.set_weights(weights)
        elif isinstance(layer, keras.layers.BatchNormalization):
            bias = _find(tensors, f"{prefix}/{layer.name}/FusedBatchNormV3", 1)
            ones = np.ones_like(bias)
            layer.set_weights([ones, bias, np.zeros_like(bias), ones - layer.epsilon])
    return model
