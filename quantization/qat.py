"""Quantization-aware training: fake-quantize the trained float U-Net and fine-tune it at a lower learning rate.

`tfmot.quantization.keras.quantize_model` takes the U-Net as built (Conv2D + BatchNormalization + ReLU are
folded into one quantized convolution; MaxPool, UpSampling2D, Concatenate and Softmax get quantized outputs).
The run directory gains qat.weights.h5 (best validation loss), qat.history.csv, qat_curves.png and a
resumable qat_ckpt/.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from quantization.config import QatConfig, TrainConfig
from quantization.devices import strategy
from quantization.run_data import prepare_data
from quantization.tfenv import keras  # selects legacy Keras before tensorflow_model_optimization loads
from quantization.train import fit


def load_float_model(run_dir: Path):
    path = Path(run_dir) / "float_model.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: train the float model first (tlfseg train --run {run_dir})")
    return keras.models.load_model(str(path), compile=False)


def quantize(float_model):
    """The QAT twin of `float_model` (same weights, fake quantization on weights and activations)."""
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras.quantize_model(float_model)


def qat_weights(run_dir: str | Path) -> Path:
    """Where a run keeps its best QAT weights (present once `tlfseg qat` has run)."""
    return Path(run_dir) / "qat.weights.h5"


def load_qat_model(run_dir: Path):
    """The fine-tuned QAT model of a run: the float model re-quantized, then the best QAT weights."""
    weights = qat_weights(run_dir)
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: run quantization-aware training first (tlfseg qat --run DIR)")
    model = quantize(load_float_model(run_dir))
    model.load_weights(str(weights))
    return model


def qat(run_dir: str | Path, qat_cfg: QatConfig | None = None) -> Path:
    """Fine-tune the run's float model with fake quantization (`qat_cfg`, default `QatConfig()`), kept in qat.json;
    resumable like float training."""
    run_dir = Path(run_dir)
    cfg, qat_cfg = TrainConfig.load(run_dir / "config.json"), qat_cfg or QatConfig()
    settings = asdict(qat_cfg)
    settings_file = run_dir / "qat.json"
    if settings_file.exists() and json.loads(settings_file.read_text()) != settings:
        raise ValueError(
            f"{run_dir} already holds a QAT run with {json.loads(settings_file.read_text())}; "
            f"delete {run_dir}/qat* to redo it with {settings}"
        )
    with strategy().scope():
        model = quantize(load_float_model(run_dir))
    settings_file.write_text(json.dumps(settings))
    keras.utils.set_random_seed(cfg.seed)
    data = prepare_data(cfg, run_dir)
    print(
        f"qat: {len(data['train'][2])} train images, {qat_cfg.epochs} epochs at learning rate "
        f"{qat_cfg.learning_rate:g}",
        flush=True,
    )
    fit(model, data, run_dir, "qat", qat_cfg.epochs, cfg, qat_cfg.learning_rate)
    return qat_weights(run_dir)
