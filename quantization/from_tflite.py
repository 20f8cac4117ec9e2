"""A trainable Keras U-Net from a .tflite model: the bundled model's weights, without shipping a Keras file.

The converter folds each BatchNormalization into the convolution before it (kernel scaled, a bias added) and keeps
the layers' names in the tensors' names (`.../enc0_conv1/Conv2D`, `...;.../enc0_bn1/FusedBatchNormV3;...`; an int8
model of quantization-aware training says `.../quant_enc0_conv1/...`). Rebuilt with the same architecture, each
convolution takes its folded kernel and each BatchNormalization becomes the folded bias (gamma 1, beta the bias,
moving mean 0, moving variance 1 - epsilon): the same function in inference mode. From an int8 model the weights are
dequantized (per-channel scales): the network QAT trained, less its activations' rounding, which on the bundled model
scores as the int8 model does (fascia Dice within 0.001), where its float32 twin, taken before QAT's last epochs,
scores 0.01 lower. Fine-tuning keeps those BatchNormalizations frozen (inference mode), which is also what a few images
call for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quantization.tfenv import keras
from quantization.unet import build_unet

#: the prefix tfmot's wrappers give a layer's name in a quantization-aware model's tensors
QAT_PREFIX = "/quant_"


def _tensors(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of the model by name (the interpreter's copy: the file's own bytes), quantized ones
    dequantized, the QAT wrappers' prefix taken off the layers' names."""
    from edge.core.interpreter import make_interpreter

    interpreter, _ = make_interpreter(str(path), threads=1)
    out = {}
    for d in interpreter.get_tensor_details():
        try:
            value = interpreter.get_tensor(d["index"])
        except ValueError:  # an activation: no data before inference
            continue
        out[d["name"].replace(QAT_PREFIX, "/")] = _dequantized(value, d["quantization_parameters"])
    return out


def _dequantized(value: np.ndarray, quantization: dict) -> np.ndarray:
    """A quantized tensor's real values (scale and zero point along its quantized axis); others as they are."""
    scales = quantization["scales"]
    if not len(scales) or value.dtype == np.float32:
        return value
    shape = [1] * value.ndim
    shape[quantization["quantized_dimension"]] = -1
    real = (value.astype(np.float64) - quantization["zero_points"].reshape(shape)) * scales.reshape(shape)
    return real.astype(np.float32)


def _find(tensors: dict[str, np.ndarray], part: str, rank: int) -> np.ndarray:
    """The one tensor of `rank` whose name holds `part` as one of its `;`-separated names' path."""
    hits = [v for k, v in tensors.items() if v.ndim == rank and any(n.endswith(part) for n in k.split(";"))]
    if len(hits) != 1:
        raise ValueError(f"{len(hits)} tensors named like {part!r} (rank {rank}): not this architecture's twin")
    return hits[0]


def keras_from_tflite(path: str | Path, base_filters: int, input_size: tuple[int, int], stem: int):
    """The U-Net (`build_unet`) with the weights of `path` (a float32 twin or an int8 model); ValueError where it is not
    this network."""
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
