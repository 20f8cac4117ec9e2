"""`tlfseg adapt`: a trained model fine-tuned on a few labelled frames of a new scanner, with the gain measured.

The base model (the bundled one or a run: its int8 model's weights, dequantized) learns the user's frames (oversampled)
among replayed images of its own training set, whose targets keep part of its own probabilities (distillation), so
the layouts it knew are not forgotten; BatchNorms stay frozen. Then quantization-aware training, int8 conversion,
an input reference spanning the new frames too, and `adapt.md`: before / after on the frames held back and on the
layouts the base knew, through the on-device path. The run directory holds the models as every run does
(`tlfseg run --model RUN/qat_int8.tflite`); each step resumes or is skipped when done.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from edge.core.familiarity import REFERENCE_FILE, InputReference
from quantization.adapt_data import Base, Frames, Plan, differences, plan, settings
from quantization.adapt_report import write_report
from quantization.config import AdaptConfig, TrainConfig
from quantization.data import DataError, load_arrays
from quantization.devices import strategy
from quantization.distill import Distillation
from quantization.evaluate import score
from quantization.pipeline import input_reference, run_steps
from quantization.runs import model_paths
from quantization.tfenv import keras

SETTINGS = "adapt.json"
#: the decoder's layers (`quantization.unet`): what `--layers decoder` trains
DECODER = ("up", "skip", "dec", "logits")


def base_keras(base: Base):
    """The base model as a Keras U-Net, in no strategy's scope: its int8 model's weights, dequantized."""
    from quantization.from_tflite import keras_from_tflite

    cfg = base.config
    return keras_from_tflite(base.int8, cfg.base_filters, cfg.input_size, cfg.stem)


def set_trainable(model, layers: str):
    """BatchNormalizations frozen (inference mode); with `layers="decoder"` the encoder too."""
    for layer in model.layers:
        frozen = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not (frozen or (layers == "decoder" and not layer.name.startswith(DECODER)))
    return model


def training_config(base: Base, cfg: AdaptConfig) -> TrainConfig:
    """The `TrainConfig` `train.fit` reads: the base's network, the adaptation's batches and augmentations."""
    net = base.config
    return TrainConfig(
        base_filters=net.base_filters,
        stem=net.stem,
        input_size=net.input_size,
        batch_size=cfg.batch_size,
        augment=cfg.augment,
        depth_crop=cfg.depth_crop,
        seed=cfg.seed,
    )


def training_data(run_dir: Path, the_plan: Plan, cfg: AdaptConfig) -> tuple[dict, np.ndarray, np.ndarray]:
    """({"train": (x, y, names)}, each image's part of the teacher's share, the images once each): the user's frames
    `cfg.oversample` times (labels alone) and the replayed images (labels and the base model's probabilities)."""
    size, cache = the_plan.base.config.input_size, run_dir.parent / ".cache"
    parts = [load_arrays(the_plan.train, size, cache)]
    if the_plan.replay:
        parts.append(load_arrays(the_plan.replay, size, cache))
    for _, _, _, problems in parts:
        for problem in problems:
            print(f"skipped: {problem}", flush=True)
    (ux, uy, unames, _), *replayed = parts
    rx, ry, rnames = replayed[0][:3] if replayed else (ux[:0], uy[:0], [])
    x = np.concatenate([np.tile(ux, (cfg.oversample, 1, 1, 1)), rx])
    y = np.concatenate([np.tile(uy, (cfg.oversample, 1, 1)), ry])
    shares = np.concatenate([np.zeros(len(ux) * cfg.oversample), np.ones(len(rx))]).astype(np.float32)
    print(
        f"adapt: {len(ux)} of your frames x{cfg.oversample} and {len(rx)} replayed images an epoch "
        f"at {size[0]}x{size[1]}",
        flush=True,
    )
    return {"train": (x, y, unames * cfg.oversample + list(rnames))}, shares, np.concatenate([ux, rx])


def _fit(run_dir: Path, model, data, shares, the_plan: Plan, cfg: AdaptConfig, name: str, epochs: int) -> None:
    """`train.fit` on the mixture, the base model distilled into the replayed images' targets, the last epoch kept."""
    from quantization.train import fit

    distillation = None
    if cfg.distill and the_plan.replay:
        distillation = Distillation([base_keras(the_plan.base)], cfg.distill, shares)
    tc = training_config(the_plan.base, cfg)
    fit(model, data, run_dir, name, epochs, tc, cfg.learning_rate, distillation=distillation, last=True)


def fine_tune(run_dir: Path, the_plan: Plan, cfg: AdaptConfig, data: dict, shares: np.ndarray) -> Path:
    """The float model fine-tuned into float.weights.h5 and float_model.h5 (resumed per epoch)."""
    target = run_dir / "float_model.h5"
    if target.is_file():
        print(f"fine-tune: done ({target})", flush=True)
        return target
    plain = set_trainable(base_keras(the_plan.base), cfg.layers)
    with strategy().scope():
        model = keras.models.clone_model(plain)
        model.set_weights(plain.get_weights())
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"fine-tune: {model.name}, {trainable:,} of {model.count_params():,} parameters learn", flush=True)
    _fit(run_dir, model, data, shares, the_plan, cfg, "float", cfg.epochs)
    plain.load_weights(str(run_dir / "float.weights.h5"))
    plain.save(str(target), include_optimizer=False)
    return target


def quantization_aware(run_dir: Path, the_plan: Plan, cfg: AdaptConfig, data: dict, shares: np.ndarray) -> Path:
    """Quantization-aware fine-tuning of the adapted float model into qat.weights.h5 (resumed per epoch)."""
    from quantization.qat import load_float_model, qat_weights, quantize

    plain = load_float_model(run_dir)
    with strategy().scope():
        model = quantize(plain)
    _fit(run_dir, model, data, shares, the_plan, cfg, "qat", cfg.qat_epochs)
    return qat_weights(run_dir)


def convert(run_dir: Path, the_plan: Plan, cfg: AdaptConfig, seen: np.ndarray) -> Path:
    """qat_int8.tflite (its input calibrated on the training images) and the input reference: the training images'
    statistics, widened to the base model's own reference (what it accepted, it still accepts). The float model is
    float_model.h5."""
    from quantization.convert import write_tflite
    from quantization.qat import load_qat_model

    reference = run_dir / REFERENCE_FILE
    if reference.is_file():  # written last
        print(f"convert: done ({reference})", flush=True)
        return reference
    write_tflite(load_qat_model(run_dir), model_paths(run_dir)["qat_int8"], int8=True, representative=seen)
    base_reference = the_plan.base.int8.with_name(REFERENCE_FILE)
    admitted = None
    if base_reference.is_file():
        before = InputReference.load(base_reference)
        admitted = np.array([before.low, before.high])
    source = f"{run_dir.name}: {len(seen)} images (your frames and replayed ones), and the base model's reference"
    input_reference(seen, cfg.augment, source, admitted).save(reference)
    print(f"convert: input reference -> {reference}", flush=True)
    return reference


def measure(run_dir: Path, the_plan: Plan, when: str, model: Path) -> dict:
    """RUN/<when>.json: `model` scored on the held-back frames and the known-layout images (kept: resumable)."""
    path = run_dir / f"{when}.json"
    if path.is_file():
        print(f"{when}: done ({path})", flush=True)
        return json.loads(path.read_text())
    sets = {"held_back": the_plan.held_back, "known": the_plan.known}
    result = {"model": str(model)}
    for part, samples in sets.items():
        result[part] = score(samples, {when: model}, f"{part} images") if samples else None
    path.write_text(json.dumps(result, indent=1))
    return result


def start(run_dir: Path, cfg: AdaptConfig, frames: Frames) -> Plan:
    """The plan, and RUN/adapt.json: written for a new run, checked against on a rerun (another configuration or
    other frames: refused); a folder that holds something else is never written into."""
    recorded = run_dir / SETTINGS
    if run_dir.is_dir() and any(run_dir.iterdir()) and not recorded.is_file():
        raise DataError(f"{run_dir} is not empty and holds no adaptation: give a new --run directory")
    the_plan = plan(cfg, frames)
    wanted = settings(cfg, frames, the_plan.names())
    if recorded.is_file():
        changed = differences(json.loads(recorded.read_text()), wanted)
        if changed:
            raise DataError(
                f"{run_dir} holds another adaptation ({'; '.join(changed)}): rerun it with its own options "
                f"(see {recorded}), or give a new --run directory"
            )
        print(f"resuming the adaptation in {run_dir}", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    recorded.write_text(json.dumps(wanted, indent=1))
    for note in the_plan.notes:
        print(f"note: {note}", flush=True)
    names = the_plan.names()
    print(
        f"adapt: from {the_plan.base.name}: {len(names['train'])} of your frames to learn, "
        f"{len(names['held_back'])} held back to measure, {len(names['replay'])} replayed, "
        f"{len(names['known'])} images of the layouts it knew to score",
        flush=True,
    )
    return the_plan


def adapt(run_dir: str | Path, cfg: AdaptConfig, frames: Frames) -> dict:
    """Fine-tune, quantize, convert and measure into `run_dir`; returns the before / after scores and the seconds
    each step took (over every run of it)."""
    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    the_plan = start(run_dir, cfg, frames)
    timings = run_dir / "timings.json"
    seconds = json.loads(timings.read_text()) if timings.is_file() else {}
    seconds["frames"] = seconds.get("frames", 0.0) + time.perf_counter() - t0
    loaded = []

    def data():
        if not loaded:
            loaded.append(training_data(run_dir, the_plan, cfg))
        return loaded[0]

    qat_int8 = model_paths(run_dir)["qat_int8"]
    try:
        results = run_steps(
            [
                ("before", lambda: measure(run_dir, the_plan, "before", the_plan.base.int8)),
                ("fine-tune", lambda: fine_tune(run_dir, the_plan, cfg, *data()[:2])),
                ("qat", lambda: quantization_aware(run_dir, the_plan, cfg, *data()[:2])),
                ("convert", lambda: convert(run_dir, the_plan, cfg, data()[2])),
                ("after", lambda: measure(run_dir, the_plan, "after", qat_int8)),
            ],
            seconds,
        )
    finally:
        timings.write_text(json.dumps(seconds, indent=1))
    report = write_report(run_dir, cfg, frames, the_plan, results["before"], results["after"], seconds)
    print(f"wrote {report}", flush=True)
    return {"before": results["before"], "after": results["after"], "seconds": seconds}
