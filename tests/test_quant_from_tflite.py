"""The bundled model's float32 twin rebuilt as a trainable Keras U-Net: the same function, so `tlfseg adapt` can
fine-tune the bundled model without a Keras file shipped beside it."""

import json

import numpy as np
import pytest

from edge.core.engine import DEFAULT_MODEL, Engine
from edge.core.preprocess import Preprocessor
from edge.live.phantom import Phantom

TWIN = DEFAULT_MODEL.with_name("tlfseg_unet_float32.tflite")


def test_the_rebuilt_network_computes_what_the_twin_computes():
    from quantization.from_tflite import keras_from_tflite

    config = json.loads(DEFAULT_MODEL.with_name("model.json").read_text())["training"]["config"]
    model = keras_from_tflite(TWIN, config["base_filters"], tuple(config["input_size"]), config["stem"])
    engine, phantom = Engine(TWIN), Phantom()
    for i in (0, 7):
        frame = phantom.frame(i)
        pre = Preprocessor(engine.input_size, "bgr")(frame.image, phantom.roi)
        expected = engine.infer(pre.tensor)
        got = model(pre.tensor[None, ..., None].astype(np.float32), training=False).numpy()[0]
        assert np.abs(got - expected).max() < 1e-4


def test_a_twin_of_another_architecture_is_refused():
    from quantization.from_tflite import keras_from_tflite

    with pytest.raises(ValueError, match="not this architecture's twin"):
        keras_from_tflite(TWIN, 16, (384, 192), 2)  # twice the width: no tensor of the shapes asked


def test_the_int8_model_rebuilt_computes_what_it_computes_less_its_rounding():
    """From the int8 model the weights are dequantized: the float network QAT trained, whose probabilities differ from
    the int8 model's by its activations' rounding only."""
    from quantization.from_tflite import keras_from_tflite

    config = json.loads(DEFAULT_MODEL.with_name("model.json").read_text())["training"]["config"]
    model = keras_from_tflite(DEFAULT_MODEL, config["base_filters"], tuple(config["input_size"]), config["stem"])
    engine, phantom = Engine(DEFAULT_MODEL), Phantom()
    for i in (0, 7):
        frame = phantom.frame(i)
        pre = Preprocessor(engine.input_size, "bgr")(frame.image, phantom.roi)
        expected = engine.infer(pre.tensor)
        got = model(pre.tensor[None, ..., None].astype(np.float32), training=False).numpy()[0]
        assert np.mean(got.argmax(-1) == expected.argmax(-1)) > 0.995
        assert np.abs(got - expected).mean() < 0.01
