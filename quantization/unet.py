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


def stem_kernel(stem: int) -> int:
    """The stem convolution's size: 3x3 at stride 2, the stride itself beyond (no input pixel skipped)."""
    return max(3, stem)


def build_unet(
    base_filters: int = 64,
    input_size: tuple[int, int] = (256, 256),
    num_classes: int = 3,
    depth: int = 4,
    stem: int = 1,
):
    """U-Net with `depth` poolings; level k has base_filters * 2**k filters.

    ``stem=1`` is the paper's network. ``stem=2`` puts a stride-2 3x3 convolution in front and predicts at half
    the input's resolution: about a quarter of the work; ``stem=4`` a stride-4 4x4 convolution (every input pixel
    seen once) and a quarter of the resolution. The runtime upsamples the class probabilities bilinearly into the
    native frame, and training scores exactly that (`train.make_dataset`).
    """
    layers = keras.layers
    h, w = input_size
    if h % (stem * 2**depth) or w % (stem * 2**depth):
        raise ValueError(f"input size {input_size} must be divisible by {stem * 2**depth}")
    inputs = keras.Input((h, w, 1), name="image")
    x, skips = inputs, []
    if stem > 1:
        kernel = stem_kernel(stem)
        x = layers.Conv2D(base_filters, kernel, strides=stem, padding="same", use_bias=False, name="stem_conv")(x)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.ReLU(name="stem_relu")(x)
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
    return keras.Model(inputs, probs, name=f"unet{base_filters}" + (f"_stem{stem}" if stem > 1 else ""))
