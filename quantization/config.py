"""A run's settings as one table: each field of `TrainConfig` and `QatConfig` carries its command-line `Option`, from
which `quantization.cli` builds the options, `quantization.recipe` writes a run back as a command and the model card
describes the recipe. Standard library and edge only, so `--help` and the model card need no TensorFlow."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edge.core.values import number
from edge.tools.commands import int_range, positive_int

POSITIVE = {"low": 0.0}  #: `edge.core.values.number`'s bounds of a rate: (0, inf)
NOT_NEGATIVE = {"low": 0.0, "low_open": False}  #: of a weight or an angle: [0, inf)


def share_below(high: float) -> dict:
    """The bounds of a share of the rows: [0, high)."""
    return {"low": 0.0, "low_open": False, "high": high, "high_open": True}


@dataclass(frozen=True)
class Option:
    """A config field's command-line option."""

    flag: str
    help: str
    metavar: str | None = None
    type: Callable[[str], Any] | None = None  #: the argparse type; a float with `limits` gets `edge.core.values.arg`
    choices: tuple | None = None
    limits: dict | None = None  #: a float's bounds (`edge.core.values.number`): checked on the command line and here
    lever: bool = False  #: a training lever: left out of a reproduce command while at its default
    only_with: str | None = None  #: the field it means nothing without: left out of a command where that is unset
    card: str | None = None  #: the model card's words (formatted with the config's fields), said where it is on
    text: Callable[[Any], str] = str  #: the value as the option's word (what `type` reads back)

    def named(self, prefix: str = "") -> str:
        """The flag with `prefix` after its dashes: --lr, --qat-lr."""
        return f"--{prefix}{self.flag[2:]}"


def option(default, flag: str, help: str, **details):
    """A dataclass field carrying its `Option`."""
    return field(default=default, metadata={"option": Option(flag, help, **details)})


def options(config) -> list[tuple[str, Option]]:
    """(field name, option) of a config class or instance, in the table's order."""
    return [(f.name, f.metadata["option"]) for f in fields(config) if "option" in f.metadata]


def check_limits(config) -> None:
    """ValueError naming the option where a bounded field is out of its range."""
    for name, opt in options(config):
        if opt.limits:
            number(getattr(config, name), opt.flag, **opt.limits)


def depth_crop_option():
    """`--depth-crop`, the same lever in training and in adaptation (`augment.depth_crop`)."""
    return option(
        0.0,
        "--depth-crop",
        "random depth crop: up to SHARE of the rows cut above and below the band, resized back",
        metavar="SHARE",
        limits=share_below(0.5),
        lever=True,
        card="random depth crops (up to {depth_crop:g} of the rows, band kept)",
    )


def parse_size(text: str) -> tuple[int, int]:
    """argparse type: 'PX' or 'HxW' -> (height, width)."""
    h, _, w = text.lower().partition("x")
    try:
        return positive_int(h), positive_int(w or h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be PX or HxW, got {text!r}") from None


def size_text(size: tuple[int, int]) -> str:
    """(height, width) as `parse_size` reads it."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"


def parse_seed(text: str) -> int:
    """argparse type: a random seed, an integer in [0, 2**32) (numpy's range)."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2**32), got {value}")
    return value


def teacher_runs(teacher: str | None) -> list[Path]:
    """The run directories of a `--teacher` value: one run, or several separated by commas (an ensemble)."""
    return [Path(part.strip()) for part in (teacher or "").split(",") if part.strip()]


@dataclass
class TrainConfig:
    """Float training; the defaults are the paper's recipe (categorical cross-entropy, Adam, batch 16, 200 epochs)."""

    base_filters: int = option(
        64, "--width", "base filters of the U-Net; 8 suits boards", metavar="N", type=positive_int
    )
    stem: int = option(
        1,
        "--stem",
        "1: the paper's U-Net; 2 or 4: strided stem, output at 1/2 or 1/4 of the input's resolution",
        type=int,
        choices=(1, 2, 4),
    )
    input_size: tuple[int, int] = option(
        (256, 256), "--size", "model input size, e.g. 256 or 320x192", metavar="PX|HxW", type=parse_size, text=size_text
    )
    epochs: int = option(
        200, "--epochs", "maximum epochs", metavar="N", type=positive_int, card="at most {epochs} epochs"
    )
    batch_size: int = option(16, "--batch", "batch size", metavar="N", type=positive_int, card="batch {batch_size}")
    learning_rate: float = option(
        1e-3,
        "--lr",
        "Adam learning rate",
        metavar="RATE",
        limits=POSITIVE,
        card="Adam at learning rate {learning_rate:g}",
    )
    augment: bool = option(
        False,
        "--augment",
        "flip/gain/gamma/speckle augmentation; the paper trained without",
        card="augmentation (flip, gain, gamma, speckle)",
    )
    warp: bool = option(
        False,
        "--warp",
        "also small affine warps (rotation/scale/shift), which the paper avoided",
        lever=True,
        card="small affine warps",
    )
    rotate: float = option(
        0.0,
        "--rotate",
        "instead of --warp: random rotations within +-DEG degrees only, no scale or shift",
        metavar="DEG",
        limits=NOT_NEGATIVE,
        lever=True,
        card="rotations within +-{rotate:g} degrees",
    )
    depth_crop: float = depth_crop_option()
    tissue_above: float = option(
        0.0,
        "--tissue-above",
        "put up to SHARE of the rows of muscle texture above the band, pushing it deeper",
        metavar="SHARE",
        limits=share_below(0.7),
        lever=True,
        card="tissue put above the band (up to {tissue_above:g} of the rows)",
    )
    stretch_above: float = option(
        0.0,
        "--stretch-above",
        "stretch the rows above the band by up to SHARE of the rows, pushing it deeper",
        metavar="SHARE",
        limits=share_below(0.7),
        lever=True,
        card="the rows above the band stretched (up to {stretch_above:g} more)",
    )
    dice_weight: float = option(
        0.0,
        "--dice",
        "add W x (1 - soft fascia Dice) to the cross-entropy, the paper's loss",
        metavar="W",
        limits=NOT_NEGATIVE,
        lever=True,
        card="{dice_weight:g} x (1 - soft fascia Dice) per image added to the loss",
    )
    schedule: str = option(
        "constant",
        "--schedule",
        "learning rate over the epochs: constant (the paper) or cosine decay to 0",
        choices=("constant", "cosine"),
        lever=True,
        card="{schedule} learning-rate decay",
    )
    teacher: str | None = option(
        None,
        "--teacher",
        "distil the float model of RUN, or the mean of several (an ensemble); same split, a stem as fine or finer",
        metavar="RUN[,RUN...]",
        lever=True,
        card="distilled from {teacher} (share {distill:g})",
    )
    distill: float = option(
        0.5,
        "--distill",
        "teacher's share of the training targets",
        metavar="SHARE",
        limits={"low": 0.0, "high": 1.0},
        lever=True,
        only_with="teacher",
    )
    patience: int | None = option(
        None,
        "--patience",
        "early stopping after N epochs without improvement of the validation loss (default off, as in the paper)",
        metavar="N",
        type=positive_int,
        card="early stopping after {patience} epochs without a better validation loss",
    )
    seed: int = option(0, "--seed", "seed of the split and the training", metavar="N", type=parse_seed)
    fractions: tuple[float, float] = (0.7, 0.15)  #: train / val; test takes the rest
    holdout: str | None = option(
        None, "--holdout", "test on one whole scanner layout never trained on, e.g. 512x512", metavar="LAYOUT"
    )
    split: str | None = option(
        None,
        "--split",
        "the train/val/test names of FILE (a split.json, or a model.json: retrain on the shipped model's split)",
        metavar="FILE",
    )
    data: str = option(
        "dl_track_apo",
        "--data",
        "'dl_track_apo' (the shared real set) or IMAGES:MASKS[:colours.json]",
        metavar="SOURCE",
    )
    label_check: bool = option(
        True,
        "--label-check",
        "leave out masks that do not sit on their image, and repeated images (listed as skipped)",
    )
    limit: int | None = option(
        None, "--limit", "use only the first N image/mask pairs (smoke runs)", metavar="N", type=positive_int
    )
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_limits(self)
        if self.warp and self.rotate:
            raise ValueError("--rotate replaces the rotation of --warp: give one of them")
        if self.teacher is not None and not teacher_runs(self.teacher):
            raise ValueError(f"--teacher names no run: {self.teacher!r}")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_dict(cls, raw: dict) -> TrainConfig:
        """A config as `dataclasses.asdict` wrote it (a run's config.json, model.json's training config)."""
        return cls(**{**raw, "input_size": tuple(raw["input_size"]), "fractions": tuple(raw["fractions"])})


@dataclass
class QatConfig:
    """Quantization-aware fine-tuning of a trained float model (RUN/qat.json); the pipeline's options say --qat-."""

    epochs: int = option(10, "--epochs", "QAT fine-tuning epochs", metavar="N", type=positive_int)
    learning_rate: float = option(
        1e-4,
        "--lr",
        "QAT learning rate: a tenth of the float training rate, fine-tuning, not retraining",
        metavar="RATE",
        limits=POSITIVE,
    )

    def __post_init__(self) -> None:
        check_limits(self)


#: `AdaptConfig.base`'s word for the shipped model (its float32 twin rebuilt: `quantization.from_tflite`)
BUNDLED = "bundled"


@dataclass
class AdaptConfig:
    """Fine-tuning a trained model on a few labelled frames of a new scanner (`tlfseg adapt`, `quantization.adapt`)."""

    base: str = option(
        BUNDLED,
        "--from",
        "the model to start from: 'bundled' (the shipped model) or a run directory of tlfseg train / pipeline",
        metavar="bundled|RUN",
    )
    hold_back: float = option(
        0.3,
        "--hold-back",
        "share of your frames kept out of training to measure before / after on (at least 2); 0 trains on all",
        metavar="SHARE",
        limits={"low": 0.0, "low_open": False, "high": 0.8},
    )
    epochs: int = option(12, "--epochs", "fine-tuning epochs", metavar="N", type=positive_int, card="{epochs} epochs")
    learning_rate: float = option(
        3e-4, "--lr", "Adam learning rate of fine-tuning and QAT", metavar="RATE", limits=POSITIVE,
        card="Adam at learning rate {learning_rate:g}",
    )  # fmt: skip
    batch_size: int = option(16, "--batch", "batch size", metavar="N", type=positive_int, card="batch {batch_size}")
    oversample: int = option(
        8,
        "--oversample",
        "each of your training frames counts N times an epoch among the replayed images",
        metavar="N",
        type=positive_int,
        card="your frames x{oversample} an epoch",
    )
    replay: int = option(
        128,
        "--replay",
        "images of the base model's own training set replayed every epoch (drawn once, seeded), so the layouts it "
        "knew are not forgotten; 0: none",
        metavar="N",
        type=int_range("--replay", 0, 100_000),
        card="{replay} of the base model's training images replayed",
    )
    distill: float = option(
        0.5,
        "--distill",
        "the base model's share of the replayed images' targets (their labels the rest): it keeps what it did there",
        metavar="SHARE",
        limits={"low": 0.0, "low_open": False, "high": 1.0},
        card="the base model's probabilities {distill:g} of the replayed images' targets",
    )
    layers: str = option(
        "all",
        "--layers",
        "which layers learn: all, or the decoder only (the encoder kept as it is); BatchNorms stay frozen",
        choices=("all", "decoder"),
        card="{layers} layers trained, BatchNorms frozen",
    )
    augment: bool = option(True, "--augment", "flip/gain/gamma/speckle augmentation", card="flip, gain, gamma, speckle")
    depth_crop: float = depth_crop_option()
    qat_epochs: int = option(
        2, "--qat-epochs", "quantization-aware fine-tuning epochs", metavar="N", type=positive_int,
        card="{qat_epochs} quantization-aware epochs",
    )  # fmt: skip
    known: str = option(
        "test",
        "--known",
        "which part of the base's split scores the layouts it knew (a layout hold-out's test split is the new "
        "layout itself: give val)",
        choices=("test", "val"),
    )
    seed: int = option(0, "--seed", "seed of the held-back draw, the replay draw and the training", type=parse_seed)
    label_check: bool = option(True, "--label-check", "refuse masks that do not sit on their image")
    limit: int | None = option(
        None, "--limit", "at most N images replayed and scored as known (smoke runs)", metavar="N", type=positive_int
    )

    def __post_init__(self) -> None:
        check_limits(self)
        if self.replay < 0:
            raise ValueError(f"--replay must be 0 or more, got {self.replay}")
