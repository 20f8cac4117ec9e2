"""A training run's settings (TrainConfig, kept in RUN/config.json). Standard library only, so the command line and
the model card need no TensorFlow."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from quantization.recipe import teacher_runs


@dataclass
class TrainConfig:
    base_filters: int = 64  #: the paper's width
    stem: int = 1  #: 1 = the paper's U-Net; 2 or 4 = strided stem, output at 1/stem resolution (`unet.build_unet`)
    input_size: tuple[int, int] = (256, 256)
    epochs: int = 200
    batch_size: int = 16
    learning_rate: float = 1e-3
    seed: int = 0
    augment: bool = False  #: the paper trained without augmentation
    warp: bool = False  #: also small affine warps (rotation, scale, shift); the paper avoided them
    rotate: float = 0.0  #: instead of warps: random rotations within +-rotate degrees only (0 = off)
    depth_crop: float = 0.0  #: random crops: up to this share of the rows cut above and below the band (0 = off)
    tissue_above: float = 0.0  #: up to this share of the rows of tissue put above the band, pushing it deeper (0 = off)
    stretch_above: float = 0.0  #: the rows above the band stretched by up to this share of the rows (0 = off)
    dice_weight: float = 0.0  #: weight of a soft fascia Dice term added to cross-entropy (0 = the paper's loss)
    schedule: str = "constant"  #: learning rate over the epochs: "constant" (the paper) or "cosine" decay to 0
    teacher: str | None = None  #: run directories (comma-separated) whose float models' mean is distilled into this one
    distill: float = 0.5  #: share of the teacher's probabilities in the training targets (with a teacher)
    patience: int | None = None  #: early stopping on validation loss (None = off, as in the paper)
    fractions: tuple[float, float] = (0.7, 0.15)  #: train / val; test takes the rest
    holdout: str | None = None  #: a scanner layout (e.g. "512x512") kept out of training: it is the test split
    split: str | None = None  #: a file whose train/val/test names are used instead of a drawn split (`given_split`)
    data: str = "dl_track_apo"  #: "dl_track_apo" or "IMAGES_DIR:MASKS_DIR[:COLOURS.json]"
    label_check: bool = True  #: leave out masks that do not sit on their image and repeated images (`check_labels`)
    limit: int | None = None  #: use only the first N samples (smoke tests)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.warp and self.rotate:
            raise ValueError("--rotate replaces the rotation of --warp: give one of them")
        if self.rotate < 0:
            raise ValueError(f"--rotate takes a range in degrees, got {self.rotate}")
        if not 0 <= self.depth_crop < 0.5:
            raise ValueError(f"--depth-crop takes a share of the rows in [0, 0.5), got {self.depth_crop}")
        if not 0 <= self.tissue_above < 0.7:
            raise ValueError(f"--tissue-above takes a share of the rows in [0, 0.7), got {self.tissue_above}")
        if self.teacher is not None and not teacher_runs(self.teacher):
            raise ValueError(f"--teacher names no run: {self.teacher!r}")
        if not 0 <= self.stretch_above < 0.7:
            raise ValueError(f"--stretch-above takes a share of the rows in [0, 0.7), got {self.stretch_above}")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        raw = json.loads(path.read_text())
        raw["input_size"] = tuple(raw["input_size"])
        raw["fractions"] = tuple(raw["fractions"])
        return cls(**raw)
