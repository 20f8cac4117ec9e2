"""Training under `tf.distribute.MirroredStrategy` (issue 24, item 5): with several devices visible, `tlfseg train`
splits each batch between them; here the CPU is split into two logical devices (which must happen before TensorFlow
initialises, so each training runs in its own process) and the result matches one device's within noise."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("tf_keras", reason="the training pipeline needs the 'train' extra")
pytestmark = pytest.mark.slow

#: the subprocess: split the CPU into DEVICES logical devices, then `tlfseg train` with the arguments after it
TRAIN = """
import sys
from quantization.tfenv import tf
devices = int(sys.argv[1])
if devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
from edge.tools.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def phantom_data(tmp_path_factory, phantom):
    """Twelve phantom frames as an annotation-tool export: images and 0/1/2 masks."""
    root = tmp_path_factory.mktemp("phantom")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for i in range(12):
        frame = phantom.frame(i * 7)
        cv2.imwrite(str(root / "images" / f"f{i:02d}.png"), frame.image)
        cv2.imwrite(str(root / "masks" / f"f{i:02d}.png"), frame.labels)
    return f"{root / 'images'}:{root / 'masks'}"


def _train(run, data, devices: int) -> tuple[str, list[dict]]:
    argv = ["train", "--run", str(run), "--data", data, "--width", "4", "--size", "64x32", "--epochs", "3"]
    argv += ["--batch", "4", "--lr", "0.003", "--seed", "1"]
    out = subprocess.run(
        [sys.executable, "-c", TRAIN, str(devices), *argv],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    history = (run / "float.history.csv").read_text().splitlines()
    head = history[0].split(",")
    return out.stdout, [dict(zip(head, map(float, row.split(",")), strict=True)) for row in history[1:]]


def test_two_devices_train_as_one(tmp_path, phantom_data):
    one_out, one = _train(tmp_path / "one", phantom_data, 1)
    two_out, two = _train(tmp_path / "two", phantom_data, 2)
    assert "MirroredStrategy" not in one_out
    assert "training on 2 devices (MirroredStrategy): /device:CPU:0, /device:CPU:1" in two_out
    assert json.loads((tmp_path / "one" / "split.json").read_text()) == json.loads(
        (tmp_path / "two" / "split.json").read_text()
    )
    assert len(one) == len(two) == 3
    losses = np.array([[row["loss"], row["val_loss"]] for row in one])
    mirrored = np.array([[row["loss"], row["val_loss"]] for row in two])
    assert losses[-1, 0] < losses[0, 0]  # it learns
    # each device normalises its half batch by its own statistics: the same training up to that and summation order
    np.testing.assert_allclose(mirrored, losses, rtol=0.1)
