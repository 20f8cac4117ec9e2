"""A run's recipe as command-line words: the train options, their TrainConfig fields, the QAT defaults, and the
command that rebuilds a run from scratch (the model card's reproduce line). Standard library only, so `--help` and
the model card need no TensorFlow."""

from __future__ import annotations

import shlex
from pathlib import Path

#: train option -> TrainConfig field; the same table turns a config back into the command that made it
TRAIN_OPTIONS = {
    "--width": "base_filters",
    "--stem": "stem",
    "--size": "input_size",
    "--epochs": "epochs",
    "--batch": "batch_size",
    "--lr": "learning_rate",
    "--augment": "augment",
    "--warp": "warp",
    "--rotate": "rotate",
    "--depth-crop": "depth_crop",
    "--tissue-above": "tissue_above",
    "--stretch-above": "stretch_above",
    "--dice": "dice_weight",
    "--schedule": "schedule",
    "--teacher": "teacher",
    "--distill": "distill",
    "--patience": "patience",
    "--seed": "seed",
    "--holdout": "holdout",
    "--split": "split",
    "--data": "data",
    "--label-check": "label_check",
    "--limit": "limit",
}
#: options of training levers, left out of a reproduce command where they are off
LEVERS = {
    "--warp",
    "--rotate",
    "--depth-crop",
    "--tissue-above",
    "--stretch-above",
    "--dice",
    "--schedule",
    "--teacher",
    "--distill",
}
QAT_EPOCHS = 10  #: quantization-aware fine-tuning epochs
QAT_LR = 1e-4  #: its learning rate: a tenth of the float training rate, fine-tuning, not retraining


def option_words(cfg) -> list[str]:
    """The train options that turn the defaults into `cfg` (levers left off are left out)."""
    words: list[str] = []
    defaults = type(cfg)()
    for option, name in TRAIN_OPTIONS.items():
        value = getattr(cfg, name)
        if option in LEVERS and (value == getattr(defaults, name) or (name == "distill" and not cfg.teacher)):
            continue  # a lever left off: the command stays the recipe it was
        if name == "input_size":
            value = value[0] if value[0] == value[1] else f"{value[0]}x{value[1]}"
        if isinstance(value, bool):
            words.append(option if value else f"--no-{option[2:]}")
        elif value is not None:
            words += [option, str(value)]
    return words


def teacher_runs(teacher: str | None) -> list[Path]:
    """The run directories of a `--teacher` value: one run, or several separated by commas (an ensemble)."""
    return [Path(part.strip()) for part in (teacher or "").split(",") if part.strip()]


def teacher_first(cfg, command: str) -> str:
    """`command`, preceded by the `tlfseg train` lines of the teachers it distils from (and of theirs)."""
    for run in reversed(teacher_runs(cfg.teacher)):
        teacher_cfg = type(cfg).load(run / "config.json")
        train = shlex.join(["tlfseg", "train", "--run", str(run), *option_words(teacher_cfg)])
        command = f"{teacher_first(teacher_cfg, train)} && {command}"
    return command


def reproduce_command(run_dir: str | Path, cfg, qat_settings: dict) -> str:
    """The command line that rebuilds a run from scratch: `tlfseg pipeline`, after training its teacher if any."""
    qat = ["--qat-epochs", str(qat_settings["epochs"]), "--qat-lr", str(qat_settings["learning_rate"]), "--ship"]
    words = ["tlfseg", "pipeline", "--run", str(run_dir), *option_words(cfg), *qat]
    return teacher_first(cfg, shlex.join(words))
