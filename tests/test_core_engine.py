"""edge.core.engine: the bundled int8 model, int8 (de)quantisation, and clear errors for bad models."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edge.core.engine import DEFAULT_MODEL, Engine, ModelError
from edge.core.grey import to_grey
from edge.core.preprocess import normalize, prepare_input


def test_bundled_model_loads(bundled_engine):
    """The bundled model is what its model.json says it is (int8, [1, H, W, 1] -> [1, H/k, W/k, 3])."""
    meta = json.loads(DEFAULT_MODEL.with_name("model.json").read_text())
    e = bundled_engine
    assert e.model_path == DEFAULT_MODEL
    assert e.input.shape == tuple(meta["input"]["shape"]) and e.output.shape == tuple(meta["output"]["shape"])
    h, w = e.input_size
    assert e.precision == "int8" and e.output.shape[3] == 3 and h % e.output_size[0] == 0 and w % e.output_size[1] == 0
    assert e.input.quantized and e.output.quantized
    assert e.backend in ("ai-edge-litert", "tflite-runtime", "tensorflow.lite")
    assert f"int8 {h}x{w}" in e.describe()
    assert all("op_name" in op for op in e.op_details())


def test_input_quantisation_round_trip(bundled_engine):
    spec = bundled_engine.input
    h, w = bundled_engine.input_size
    x = np.linspace(0.0, 1.0, h * w, dtype=np.float32).reshape(h, w)
    q = bundled_engine._quantize(x)
    assert q.dtype == np.int8
    back = (q.astype(np.float32) - spec.zero_point) * spec.scale
    assert np.abs(back - x).max() <= spec.scale / 2 + 1e-6
    assert q.min() == np.iinfo(np.int8).min and q.max() == np.iinfo(np.int8).max  # [0, 1] spans int8
    assert bundled_engine._quantize(np.full((2, 2), 5.0, np.float32)).max() == 127  # clipped, not wrapped
    assert bundled_engine._quantize(np.full((2, 2), -5.0, np.float32)).min() == -128
    levels = normalize(np.arange(256, dtype=np.uint8).reshape(16, 16))  # every input the runtime gives it
    expected = np.clip(np.rint(levels / np.float32(spec.scale)) + spec.zero_point, -128, 127)
    np.testing.assert_array_equal(bundled_engine._quantize(levels), expected.astype(np.int8))


def test_output_dequantisation(bundled_engine):
    """Raw int8 -> real values from scale and zero point; a logits model then gets its softmax here."""
    spec = bundled_engine.output
    raw = np.arange(-128, 127, dtype=np.int8).reshape(5, 17, 3)
    probs = bundled_engine.dequantize(raw)
    values = (raw.astype(np.float64) - spec.zero_point) * spec.scale
    if bundled_engine.outputs_logits:
        values = np.exp(values - values.max(-1, keepdims=True))
        values /= values.sum(-1, keepdims=True)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs, values, rtol=1e-5, atol=1e-6)


def test_the_bundled_model_ends_in_logits_and_the_engine_applies_the_softmax(bundled_engine):
    """The whole int8 graph runs in XNNPACK (the same bytes on x86 and ARM) and maps to the Edge TPU."""
    assert bundled_engine.outputs_logits
    assert "SOFTMAX" not in {op["op_name"] for op in bundled_engine.op_details()}


def test_infer_gives_probabilities(bundled_engine, phantom):
    frame = phantom.frame(0)
    x = prepare_input(to_grey(frame.image), frame.roi, bundled_engine.input_size)
    probs = bundled_engine.infer(x)
    assert probs.shape == (*bundled_engine.output_size, 3) and probs.dtype == np.float32
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=0.02)  # softmax, up to int8 steps
    raw = bundled_engine.run_raw(x)
    assert raw.dtype == np.int8 and raw.shape == (*bundled_engine.output_size, 3)


def test_run_raw_rejects_wrong_input_size(bundled_engine):
    with pytest.raises(ValueError, match=re.escape(f"the model takes {bundled_engine.input_size}")):
        bundled_engine.run_raw(np.zeros((128, 128), np.float32))


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        Engine(tmp_path / "nope.tflite")


def test_random_bytes_model(tmp_path):
    path = tmp_path / "random.tflite"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match="not a TensorFlow Lite flatbuffer"):
        Engine(path)


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_model(tmp_path, keep):
    data = DEFAULT_MODEL.read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelError, match="not a loadable .tflite model"):
        Engine(path)


def test_empty_model(tmp_path):
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="not a TensorFlow Lite flatbuffer"):
        Engine(path)


_WRONG_OUTPUT_MODEL = textwrap.dedent(
    """
    import sys
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 32, 32, 1], tf.float32)])
    def two_classes(x):
        return tf.concat([x, 1.0 - x], axis=-1)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([two_classes.get_concrete_function()], two_classes)
    open(sys.argv[1], "wb").write(converter.convert())
    """
)


def test_wrong_output_shape(tmp_path):
    """A valid .tflite that maps an image to 2 classes, built with the train extra's TensorFlow.

    Built in a subprocess so that TensorFlow never enters the test process (edge must run without it).
    """
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("needs TensorFlow (the train extra) to build a test model")
    path = tmp_path / "two_classes.tflite"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", _WRONG_OUTPUT_MODEL, str(path)], check=True, env=env, timeout=300)
    with pytest.raises(ModelError, match=r"output shape \[1, 32, 32, 2\] is not \[1, 32, 32, 3\]"):
        Engine(path)


@pytest.mark.usefixtures("no_edgetpu_runtime")
def test_edgetpu_without_runtime():
    with pytest.raises(RuntimeError, match=r"Edge TPU delegate unavailable: libedgetpu\.so\.1.*libedgetpu1-std"):
        Engine(delegate="edgetpu")


def test_unknown_delegate():
    with pytest.raises(ValueError, match="unknown delegate 'gpu'"):
        Engine(delegate="gpu")
