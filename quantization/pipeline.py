"""The pipeline's steps on a run directory, and the chain data -> float -> QAT -> .tflite -> evaluation -> ship."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from edge.core.familiarity import REFERENCE_FILE
from quantization.config import QatConfig, TrainConfig
from quantization.run_data import prepare_data
from quantization.runs import SHIP_DIR, SHIPPED, model_paths


def input_statistics_seen(x, augment: bool):
    """`input_statistics` of model inputs x (N, H, W, 1) as training showed them: with `augment`, also at the
    corners of the augmentation's gain and gamma (the model saw those too; its speckle and the geometric levers,
    depth crop and the like, are not spanned)."""
    import numpy as np

    from edge.core.familiarity import input_statistics
    from quantization.augment import GAIN, GAMMA

    variants = [(g, e) for g in (GAIN[0], 1.0, GAIN[1]) for e in (GAMMA[0], 1.0, GAMMA[1])] if augment else [(1.0, 1.0)]
    return np.array([input_statistics(np.clip(image[..., 0] * g, 0, 1) ** e) for image in x for g, e in variants])


def input_reference(x, augment: bool, source: str, admitted=None):
    """The `edge.core.familiarity.InputReference` of training inputs x (N, H, W, 1) as training showed them, widened
    to admit the statistics rows `admitted` (validation images' statistics, another reference's ends)."""
    from edge.core.familiarity import InputReference

    return InputReference.from_statistics(input_statistics_seen(x, augment), admitted, source, images=len(x))


def write_input_reference(run_dir: str | Path, data: dict | None = None) -> Path:
    """RUN/input_reference.json: the range of the training images' input statistics (`edge.core.familiarity`), beside
    the run's models, widened to admit every validation image; `data` from `prepare_data`, else loaded."""
    from edge.core.familiarity import input_statistics

    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    data = data or prepare_data(cfg, run_dir)
    val = [input_statistics(image[..., 0]) for image in data["val"][0]] if "val" in data else None
    images = len(data["train"][0])
    source = f"{run_dir.name}: {images} train images" + (", augmented gain and gamma" if cfg.augment else "")
    path = input_reference(data["train"][0], cfg.augment, source, val).save(run_dir / REFERENCE_FILE)
    print(f"convert: input reference ({source}) -> {path}", flush=True)
    return path


def convert(run_dir: str | Path) -> dict[str, Path]:
    """float32 reference, post-training int8 (calibrated on the train split) and, once `tlfseg qat` has run, QAT int8
    .tflite models, with the input reference beside them; returns the models written."""
    from quantization.convert import write_tflite
    from quantization.qat import load_float_model, load_qat_model, qat_weights

    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    data = prepare_data(cfg, run_dir)
    representative = data["train"][0]
    write_input_reference(run_dir, data)
    paths = model_paths(run_dir)
    float_model = load_float_model(run_dir)
    print("convert: float32 (reference)", flush=True)
    write_tflite(float_model, paths["float32"])
    print(f"convert: post-training int8, calibrated on {min(len(representative), 100)} train images", flush=True)
    write_tflite(float_model, paths["ptq_int8"], int8=True, representative=representative)
    if not qat_weights(run_dir).is_file():
        print(
            f"convert: no quantization-aware model in {run_dir} (tlfseg qat makes one): float32 and PTQ only",
            flush=True,
        )
        return {name: path for name, path in paths.items() if name != "qat_int8"}
    print("convert: quantization-aware int8", flush=True)
    write_tflite(load_qat_model(run_dir), paths["qat_int8"], int8=True, representative=representative)
    return paths


def ship(run_dir: str | Path, dest: str | Path = SHIP_DIR) -> list[Path]:
    """Copy the QAT int8 model and its float32 twin into `dest`, with their input reference (written first where a
    run converted before it existed lacks one), MODEL_CARD.md and model.json."""
    from quantization.model_card import collect, write_model_card, write_model_json

    run_dir, dest = Path(run_dir), Path(dest)
    evaluation = run_dir / "evaluation.json"
    if not evaluation.is_file():
        raise FileNotFoundError(f"{evaluation} not found: evaluate before shipping")
    if json.loads(evaluation.read_text())["split"] != "test":
        raise ValueError(f"{evaluation} is not on the test split: run tlfseg evaluate --run {run_dir} before shipping")
    if not (run_dir / REFERENCE_FILE).is_file():
        write_input_reference(run_dir)
    info = collect(run_dir)  # before anything is copied: the commit named is the code's, not a tree the copies dirty
    dest.mkdir(parents=True, exist_ok=True)
    paths = model_paths(run_dir)
    written = []
    for name, file in SHIPPED.items():
        written.append(Path(shutil.copyfile(paths[name], dest / file)))
    written.append(Path(shutil.copyfile(run_dir / REFERENCE_FILE, dest / REFERENCE_FILE)))
    written.append(write_model_card(info, dest / "MODEL_CARD.md"))
    written.append(write_model_json(info, dest / "model.json"))
    for path in written:
        print(f"shipped {path}", flush=True)
    return written


def run(run_dir: str | Path, cfg: TrainConfig, qat_cfg: QatConfig, ship_to: Path | None = None) -> dict:
    """train -> qat -> convert -> evaluate (-> ship); training and QAT resume (or skip when finished),
    conversion and evaluation are redone."""
    from quantization.evaluate import evaluate
    from quantization.qat import qat
    from quantization.train import train

    run_dir = Path(run_dir)
    steps = [
        ("train", lambda: train(run_dir, cfg)),
        ("qat", lambda: qat(run_dir, qat_cfg)),
        ("convert", lambda: convert(run_dir)),
        ("evaluate", lambda: evaluate(run_dir)),
    ]
    if ship_to is not None:
        steps.append(("ship", lambda: ship(run_dir, ship_to)))
    return run_steps(steps)


def run_steps(steps: list[tuple[str, Callable]], seconds: dict[str, float] | None = None) -> dict:
    """Each (name, step) in turn with its progress line and time; each step's seconds are added to `seconds`."""
    results = {}
    for i, (name, step) in enumerate(steps, 1):
        print(f"== step {i}/{len(steps)}: {name}", flush=True)
        t0 = time.perf_counter()
        results[name] = step()
        took = time.perf_counter() - t0
        if seconds is not None:
            seconds[name] = seconds.get(name, 0.0) + took
        print(f"== {name} done in {took:.0f} s", flush=True)
    return results
