"""The paper's 2D U-Net (4 poolings, two 3x3 convolutions a level, softmax over 3 classes), width as a parameter.

Built with tf_keras (Keras 2) so that tensorflow-model-optimization can apply quantization-aware training;
only layers that QAT and the Edge TPU compiler accept: Conv2D, BatchNormalization, ReLU, MaxPooling2D,
UpSampling2D (+ Conv2D, not Conv2DTranspose), Concatenate without activation, Softmax.
"""

from __future__ import annotations

from quantization.tfenv import keras


def _block(x, filters: int, name: str):
    layers = keras.layers
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_unet(base_filters: int = 64, input_size: tuple[int, int] = (256, 256), num_classes: int = 3, depth: int = 4):
    """U-Net with `depth` poolings; level k has base_filters * 2**k filters."""
    layers = keras.layers
    h, w = input_size
    if h % 2**depth or w % 2**depth:
        raise ValueError(f"input size {input_size} must be divisible by {2**depth}")
    inputs = keras.Input((h, w, 1), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = _block(x, base_filters * 2**level, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _block(x, base_filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{level}")(x)
        x = layers.Conv2D(filters, 2, padding="same", activation="relu", name=f"up{level}_conv")(x)
        x = layers.Concatenate(name=f"skip{level}")([skips[level], x])
        x = _block(x, filters, f"dec{level}")
    logits = layers.Conv2D(num_classes, 1, name="logits")(x)
    probs = layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs, name=f"unet{base_filters}")
