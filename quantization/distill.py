"""Distillation: a teacher run's float model (or the mean of several) blended into the training targets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantization.tfenv import keras, tf


@dataclass
class Distillation:
    """Teachers (Keras models) whose mean probabilities take `share` of the training targets; `per_image` (one value
    in [0, 1] a training image), where given, scales the share image by image."""

    teachers: list
    share: float
    per_image: np.ndarray | None = None


def load_teacher(teacher_run: str | Path, run_dir: Path, output_shape: tuple):
    """The float model of `teacher_run`, refused unless it was trained on this run's training images only.

    The teacher may predict on a finer grid than this model (a smaller stem stride): an integer multiple of
    its rows and columns, which `distilled` averages down.
    """
    teacher_run = Path(teacher_run)
    mine, theirs = run_dir / "split.json", teacher_run / "split.json"
    if not (teacher_run / "float_model.h5").is_file() or not theirs.is_file():
        raise FileNotFoundError(f"{teacher_run} holds no trained float model (float_model.h5 and split.json)")
    if json.loads(theirs.read_text())["train"] != json.loads(mine.read_text())["train"]:
        raise ValueError(f"the teacher {teacher_run} was trained on another split: it saw images this run tests on")
    teacher = keras.models.load_model(str(teacher_run / "float_model.h5"), compile=False)
    (th, tw, tc), (h, w, c) = teacher.output_shape[1:], output_shape[1:]
    if tc != c or th % h or tw % w or th // h != tw // w:
        raise ValueError(f"the teacher predicts {teacher.output_shape}, this model {output_shape}")
    teacher.trainable = False
    return teacher


def distilled(ds, teachers, share: float):
    """Training targets blended with the teachers' mean probabilities on the same (augmented) images.

    Cross-entropy is linear in its target, so this is (1 - share) x the label loss + share x the distillation
    loss (a Dice term, when on, scores the blended target); unlabelled pixels keep weight 0. Several teachers are
    an ensemble: their probabilities are averaged. A teacher on a finer grid is averaged over each target
    pixel's cells: class fractions, as the labels' targets are. Batches that carry a fourth element (`make_dataset`'s
    `shares`) scale `share` per image by it: 0 keeps an image's labels alone as its targets.
    """
    if not 0 < share <= 1:
        raise ValueError(f"the teacher's share of the targets must be in (0, 1], got {share}")
    teachers = teachers if isinstance(teachers, list | tuple) else [teachers]
    rows = ds.element_spec[1].shape[-3]

    def predict(teacher, x):
        probs, factor = teacher(x, training=False), teacher.output_shape[1] // rows
        return tf.nn.avg_pool2d(probs, factor, factor, "VALID") if factor > 1 else probs

    def blend(x, target, weight, *per_image):
        probs = tf.add_n([predict(t, x) for t in teachers]) / len(teachers)
        mine = share * per_image[0][:, None, None, None] if per_image else share
        return x, (1 - mine) * target + mine * probs, weight

    return ds.map(blend, num_parallel_calls=1)
