"""Training with the paper's recipe (categorical cross-entropy over labelled pixels, Adam, batch 16, 200 epochs),
resumable after an interruption, with early stopping on request and the training curves as a picture."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.core.labels import FASCIA, IGNORE, NUM_CLASSES
from quantization.data import check_labels, load_arrays, load_dl_track_apo, load_folder, split, split_holdout
from quantization.recipe import teacher_runs
from quantization.tfenv import keras, tf
from quantization.unet import build_unet


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


def load_samples(data: str, label_check: bool = True):
    """The samples of `data` and the problems found; with `label_check`, those `check_labels` leaves out."""
    if data == "dl_track_apo":
        samples, problems = load_dl_track_apo()
    else:
        parts = data.split(":")
        samples, problems = load_folder(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
    if not label_check:
        return samples, problems
    kept, left_out = check_labels(samples)
    return kept, problems + left_out


def given_split(path: str | Path, names: set[str]) -> dict[str, list[str]]:
    """The train / val / test names of a split.json, or of a model.json (its "split"), kept to `names`: a model
    retrained on the split of the one it replaces is scored on the images neither trained on."""
    raw = json.loads(Path(path).read_text())
    parts = raw["split"].get("names") if isinstance(raw, dict) and isinstance(raw.get("split"), dict) else raw
    if not isinstance(parts, dict) or not {"train", "val", "test"} <= set(parts):
        raise ValueError(f"{path} holds no train / val / test split (a split.json, or a model.json with one)")
    given = [set(parts[part]) for part in ("train", "val", "test")]
    if given[0] & given[1] or given[0] & given[2] or given[1] & given[2]:
        raise ValueError(f"{path}: an image is in two parts of the split")
    kept = {part: sorted(g & names) for part, g in zip(("train", "val", "test"), given)}
    if not kept["train"] or not kept["val"]:
        raise ValueError(f"{path}: none of its train or validation images are in this data (another data set?)")
    return kept


def prepare_data(cfg: TrainConfig, run_dir: Path) -> dict:
    """Load, split (written to split.json) and preprocess the data; returns arrays per split."""
    samples, problems = load_samples(cfg.data, cfg.label_check)
    samples = samples[: cfg.limit] if cfg.limit else samples
    by_name = {s.name: s for s in samples}
    split_file = run_dir / "split.json"
    if split_file.exists():
        parts = json.loads(split_file.read_text())
    elif cfg.split:
        if cfg.holdout:
            raise ValueError("--split gives the whole split; --holdout draws one: give one of them")
        parts = given_split(cfg.split, set(by_name))
        split_file.write_text(json.dumps(parts, indent=1))
    elif cfg.holdout:
        parts = split_holdout(samples, cfg.holdout, cfg.seed, cfg.fractions)
        split_file.write_text(json.dumps(parts, indent=1))
    else:
        parts = split(sorted(by_name), cfg.seed, cfg.fractions)
        split_file.write_text(json.dumps(parts, indent=1))
    out = {"problems": problems}
    cache = run_dir.parent / ".cache"
    for part, names in parts.items():
        names = [n for n in names if n in by_name]  # a split written before the label check left some out
        if not names:
            continue
        x, y, used, skipped = load_arrays([by_name[n] for n in names], cfg.input_size, cache)
        out[part] = (x, y, used)
        out["problems"] += skipped
    for p in out["problems"]:
        print(f"skipped: {p}", flush=True)
    return out


#: `_augment`'s ranges of gain (a factor) and gamma (an exponent): the input reference spans their corners too
GAIN, GAMMA = (0.75, 1.25), (0.75, 1.33)


def _augment(x, y):
    """Anatomy-preserving augmentation: horizontal flip, gain, gamma, multiplicative speckle."""
    flip = tf.random.uniform(()) < 0.5
    x, y = (tf.cond(flip, lambda t=t: tf.reverse(t, [1]), lambda t=t: t) for t in (x, y))
    x = x * tf.random.uniform((), *GAIN)
    x = tf.pow(tf.clip_by_value(x, 0.0, 1.0), tf.random.uniform((), *GAMMA))
    x = x * tf.random.normal(tf.shape(x), 1.0, tf.random.uniform((), 0.0, 0.15))
    return tf.clip_by_value(x, 0.0, 1.0), y


#: --warp's affine ranges: rotation (degrees), scale (1 +- this), shift (+- this of the size)
WARP = (5.0, 0.1, 0.05)


def _affine(degrees: float, scale_range: float, shift_range: float):
    """A random affine warp of image and labels together: rotation within +-`degrees`, scale 1 +- `scale_range`,
    shift +- `shift_range` of the size. `--warp` is `WARP`, `--rotate D` is (D, 0, 0).

    The image is resampled bilinearly, the labels by nearest neighbour; what comes from outside the image is
    black and unlabelled (IGNORE), so no label is invented.
    """

    def warp(x, y):
        h, w = tf.cast(tf.shape(x)[0], tf.float32), tf.cast(tf.shape(x)[1], tf.float32)
        angle = tf.random.uniform((), -degrees, degrees) * math.pi / 180
        scale = tf.random.uniform((), 1 - scale_range, 1 + scale_range)
        shift_x = tf.random.uniform((), -shift_range, shift_range) * w
        shift_y = tf.random.uniform((), -shift_range, shift_range) * h
        cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # output pixel (u, v) samples input
        # (cos*(u-cx) - sin*(v-cy) + cx - shift_x, sin*(u-cx) + cos*(v-cy) + cy - shift_y)
        matrix = tf.stack(
            [cos, -sin, cx - cos * cx + sin * cy - shift_x, sin, cos, cy - sin * cx - cos * cy - shift_y, 0.0, 0.0]
        )[None]
        shape = tf.shape(x)[:2]

        def transform(t, interpolation, fill):
            return tf.raw_ops.ImageProjectiveTransformV3(
                images=t[None],
                transforms=matrix,
                output_shape=shape,
                interpolation=interpolation,
                fill_mode="CONSTANT",
                fill_value=fill,
            )[0]

        x = transform(x, "BILINEAR", 0.0)
        y = transform(tf.cast(y, tf.float32)[..., None], "NEAREST", float(IGNORE))[..., 0]
        return x, tf.cast(y, tf.uint8)

    return warp


def _depth_crop(share: float):
    """A random crop of whole rows, resized back to the input: the band at other depths and scales, real tissue only.

    Up to `share` of the rows is cut from the top, never into the band (the image then starts deeper in the body,
    as with less tissue above the fascia or a probe pressed harder), and up to `share` from the bottom, never into
    the band (the band deeper and thicker relative to the image). No rows are filled in, so no seam or black filler
    becomes a cue. The image is resampled bilinearly, the labels by nearest neighbour; half of the images stay as
    they are.
    """

    def crop(x, y):
        h, w = tf.shape(x)[0], tf.shape(x)[1]
        rows = tf.cast(tf.where(tf.reduce_any(tf.equal(y, FASCIA), axis=1))[:, 0], tf.int32)
        band_top = tf.reduce_min(tf.concat([rows, [h - 1]], 0))
        band_bottom = tf.reduce_max(tf.concat([rows, [0]], 0))
        limit = share * tf.cast(h, tf.float32)
        cut_top = tf.random.uniform((), 0.0, tf.minimum(limit, tf.cast(band_top, tf.float32)) + 1e-3)
        cut_bottom = tf.random.uniform((), 0.0, tf.minimum(limit, tf.cast(h - 1 - band_bottom, tf.float32)) + 1e-3)
        keep = tf.cast(tf.random.uniform(()) < 0.5, tf.float32)
        cut_top, cut_bottom = cut_top * (1 - keep), cut_bottom * (1 - keep)
        last = tf.cast(h - 1, tf.float32)
        box = tf.stack([cut_top / last, 0.0, (last - cut_bottom) / last, 1.0])[None]
        size = tf.stack([h, w])
        x = tf.image.crop_and_resize(x[None], box, [0], size, method="bilinear")[0]
        labels = tf.cast(y, tf.float32)[None, ..., None]
        y = tf.image.crop_and_resize(labels, box, [0], size, method="nearest")[0, ..., 0]
        return x, tf.cast(tf.round(y), tf.uint8)

    return crop


def _tissue_above(share: float):
    """More tissue above the band: the band pushed deeper into the picture, as under a thicker layer of skin and fat.

    Every labelled band of the shared set starts within the top 8 % of its B-mode area, so a model learns "the first
    bright line near the top". Here up to `share` of the rows are put on top of the image, taken from the tissue just
    under the band (muscle: faint, fibre-like lines, as the septa of subcutaneous fat look), upside down so that the
    rows nearest the band's underside meet the image's top; the image is cut back to its height at the bottom (never
    into the band). The new rows are labelled tissue above (unlabelled where the column is), so the model learns that
    faint lines above a band are not the fascia. Half of the images stay as they are.
    """

    def add(x, y):
        h = tf.shape(x)[0]
        rows = tf.cast(tf.where(tf.reduce_any(tf.equal(y, FASCIA), axis=1))[:, 0], tf.int32)
        below = tf.reduce_max(tf.concat([rows, [-1]], 0)) + 1  # the first row under the band
        room = tf.minimum(tf.cast(share * tf.cast(h, tf.float32), tf.int32), h - below)  # the bottom cut spares it
        extra = tf.cast(tf.random.uniform(()) * tf.cast(room, tf.float32), tf.int32)
        extra = tf.where((tf.random.uniform(()) < 0.5) | (tf.size(rows) == 0), 0, extra)
        strip, strip_labels = x[below : below + extra], y[below : below + extra]
        strip_labels = tf.where(tf.equal(strip_labels, IGNORE), strip_labels, tf.zeros_like(strip_labels))
        x = tf.concat([tf.reverse(strip, [0]), x], 0)[:h]
        y = tf.concat([tf.reverse(strip_labels, [0]), y], 0)[:h]
        return x, y

    return add


def _stretch_above(share: float):
    """More tissue above the band without a seam or a new line: the rows above the band stretched downwards.

    `_tissue_above` borrowed the muscle under the band, and with it the deep aponeurosis: a bright band above the
    labelled one, which taught the model to skip the true band. Here the image's own rows above the band are
    resampled (bilinearly, labels by nearest neighbour) to up to `share` of the height more; the band and what lies
    under it move down unchanged and the image is cut back to its height at the bottom, never into the band. The
    speckle of the stretched rows is coarser vertically; `_augment`'s multiplicative speckle, applied after, adds
    fine grain back. Half of the images stay as they are.
    """

    def stretch(x, y):
        h, w = tf.shape(x)[0], tf.shape(x)[1]
        rows = tf.cast(tf.where(tf.reduce_any(tf.equal(y, FASCIA), axis=1))[:, 0], tf.int32)
        top = tf.reduce_min(tf.concat([rows, [h]], 0))  # the band's first row (h: no band)
        room = h - 1 - tf.reduce_max(tf.concat([rows, [0]], 0))  # rows under the band the cut may take
        room = tf.minimum(room, tf.cast(share * tf.cast(h, tf.float32), tf.int32))
        extra = tf.cast(tf.random.uniform(()) * tf.cast(room, tf.float32), tf.int32)
        extra = tf.where((tf.random.uniform(()) < 0.5) | (top < 2) | (top >= h), 0, extra)
        top = tf.clip_by_value(top, 1, h)  # a band at row 0 (extra is 0 then): resize one row to itself, not none
        size = tf.stack([top + extra, w])
        above = tf.image.resize(x[:top], size, method="bilinear")
        labels = tf.image.resize(y[:top, :, None], size, method="nearest")[..., 0]
        x = tf.concat([above, x[top:]], 0)[:h]
        y = tf.concat([tf.cast(labels, y.dtype), y[top:]], 0)[:h]
        return tf.ensure_shape(x, [None, None, 1]), y

    return stretch


def _targets(stride: int):
    """Labels at input resolution -> (soft class targets, weights) at the model's output resolution.

    Targets are the class fractions of each output pixel's stride x stride input pixels (IGNORE left out);
    the weight is the fraction of labelled pixels. At stride 1 this is one-hot cross-entropy over the
    labelled pixels, the paper's loss; at stride 2 the model learns probabilities whose bilinear upsampling,
    as the runtime does it, places the boundaries between output pixels.
    """

    def convert(x, y):
        valid = tf.cast(tf.not_equal(y, IGNORE), tf.float32)[..., None]
        onehot = tf.one_hot(tf.cast(tf.where(y == IGNORE, 0, tf.cast(y, tf.int32)), tf.int32), NUM_CLASSES) * valid
        if stride > 1:
            onehot = tf.nn.avg_pool2d(onehot[None], stride, stride, "VALID")[0]
            valid = tf.nn.avg_pool2d(valid[None], stride, stride, "VALID")[0]
        return x, onehot / tf.maximum(valid, 1e-6), valid[..., 0]

    return convert


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch: int,
    shuffle: bool,
    augment: bool,
    seed: int,
    stride: int = 1,
    warp: bool = False,
    rotate: float = 0.0,
    depth_crop: float = 0.0,
    tissue_above: float = 0.0,
    stretch_above: float = 0.0,
):
    """(image, soft targets, weights) batches; `stride` is input size / the model's output size."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if tissue_above:
        ds = ds.map(_tissue_above(tissue_above), num_parallel_calls=tf.data.AUTOTUNE)
    if stretch_above:
        ds = ds.map(_stretch_above(stretch_above), num_parallel_calls=tf.data.AUTOTUNE)
    if depth_crop:
        ds = ds.map(_depth_crop(depth_crop), num_parallel_calls=tf.data.AUTOTUNE)
    if warp or rotate:
        ranges = WARP if warp else (rotate, 0.0, 0.0)
        ds = ds.map(_affine(*ranges), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_targets(stride), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)


def segmentation_loss(dice_weight: float = 0.0):
    """Per-pixel categorical cross-entropy (the paper's loss) plus `dice_weight` x (1 - soft fascia Dice).

    The Dice term is computed per image over its labelled pixels (unlabelled pixels have all-zero targets) and
    spread over the image's pixels, so Keras' per-pixel weights scale it like the cross-entropy.
    """
    if not dice_weight:
        return keras.losses.CategoricalCrossentropy()
    cross_entropy = keras.losses.CategoricalCrossentropy(reduction="none")

    def loss(y_true, y_pred):
        labelled = tf.reduce_sum(y_true, -1)
        fascia, target = y_pred[..., FASCIA] * labelled, y_true[..., FASCIA]
        overlap = tf.reduce_sum(fascia * target, [1, 2])
        dice = (2 * overlap + 1.0) / (tf.reduce_sum(fascia, [1, 2]) + tf.reduce_sum(target, [1, 2]) + 1.0)
        return cross_entropy(y_true, y_pred) + dice_weight * (1 - dice)[:, None, None]

    return loss


def compile_model(model, learning_rate, dice_weight: float = 0.0):
    """Adam on `segmentation_loss`; `learning_rate` is a rate or a Keras schedule."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=segmentation_loss(dice_weight),
        weighted_metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


def plot_curves(history_csv: Path, out_png: Path, title: str) -> None:
    """Loss and accuracy per epoch, train vs validation (the paper's Figure 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(history_csv.open()))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, [float(r[key]) for r in rows], label="train")
        if f"val_{key}" in rows[0]:
            ax.plot(epochs, [float(r[f"val_{key}"]) for r in rows], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


class RunState(keras.callbacks.Callback):
    """Per epoch: checkpoint (model + optimizer), history row, best weights, curves, early stopping."""

    def __init__(self, run_dir: Path, manager, epoch_var, patience: int | None, title: str, best_name: str):
        super().__init__()
        self.run_dir, self.manager, self.epoch_var = run_dir, manager, epoch_var
        self.patience, self.title, self.best_name = patience, title, best_name
        self.state_file = run_dir / f"{best_name}.state.json"
        self.history = run_dir / f"{best_name}.history.csv"
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self.best, self.wait = state.get("best", math.inf), state.get("wait", 0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        row = {"epoch": epoch + 1, **{k: f"{float(v):.6f}" for k, v in logs.items()}}
        new = not self.history.exists()
        with self.history.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        monitor = logs.get("val_loss", logs.get("loss"))
        if monitor < self.best:
            self.best, self.wait = monitor, 0
            self.model.save_weights(str(self.run_dir / f"{self.best_name}.weights.h5"))
        else:
            self.wait += 1
        self.epoch_var.assign(epoch + 1)
        self.manager.save()
        self.state_file.write_text(json.dumps({"best": self.best, "wait": self.wait, "epoch": epoch + 1}))
        plot_curves(self.history, self.run_dir / f"{self.best_name}_curves.png", self.title)
        if self.patience is not None and self.wait >= self.patience:
            print(f"early stopping: validation loss has not improved for {self.wait} epochs", flush=True)
            self.model.stop_training = True


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
    pixel's cells: class fractions, as the labels' targets are.
    """
    if not 0 < share <= 1:
        raise ValueError(f"the teacher's share of the targets must be in (0, 1], got {share}")
    teachers = teachers if isinstance(teachers, list | tuple) else [teachers]
    rows = ds.element_spec[1].shape[-3]

    def predict(teacher, x):
        probs, factor = teacher(x, training=False), teacher.output_shape[1] // rows
        return tf.nn.avg_pool2d(probs, factor, factor, "VALID") if factor > 1 else probs

    def blend(x, target, weight):
        probs = tf.add_n([predict(t, x) for t in teachers]) / len(teachers)
        return x, (1 - share) * target + share * probs, weight

    return ds.map(blend, num_parallel_calls=1)


def fit(
    model,
    data: dict,
    run_dir: Path,
    name: str,
    epochs: int,
    cfg: TrainConfig,
    learning_rate: float,
    schedule: str = "constant",
) -> None:
    """Fit `model` on data['train'] (validated on data['val']), resuming from run_dir/name checkpoints.

    ``schedule="cosine"`` decays the rate to 0 over `epochs` (the step count is restored with the optimizer).
    """
    x, y, _ = data["train"]
    if schedule == "cosine":
        steps = epochs * math.ceil(len(x) / cfg.batch_size)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    elif schedule != "constant":
        raise ValueError(f"unknown learning-rate schedule {schedule!r} (constant or cosine)")
    compile_model(model, learning_rate, cfg.dice_weight)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(run_dir / f"{name}_ckpt"), max_to_keep=1)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        print(f"resuming {name} from epoch {int(epoch_var.numpy())}", flush=True)
    state_file = run_dir / f"{name}.state.json"
    if state_file.exists() and json.loads(state_file.read_text()).get("done"):
        print(f"{name}: already finished", flush=True)
        return
    stride = x.shape[1] // model.output_shape[1]
    train_ds = make_dataset(
        x,
        y,
        cfg.batch_size,
        True,
        cfg.augment,
        cfg.seed,
        stride,
        cfg.warp,
        cfg.rotate,
        cfg.depth_crop,
        cfg.tissue_above,
        cfg.stretch_above,
    )
    if cfg.teacher:
        teachers = [load_teacher(t, run_dir, model.output_shape) for t in teacher_runs(cfg.teacher)]
        train_ds = distilled(train_ds, teachers, cfg.distill)
    val = data.get("val")
    val_ds = make_dataset(val[0], val[1], cfg.batch_size, False, False, cfg.seed, stride) if val else None
    callback = RunState(run_dir, manager, epoch_var, cfg.patience, f"{model.name}: {name}", name)
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        initial_epoch=int(epoch_var.numpy()),
        callbacks=[callback],
        verbose=2,
    )
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    state_file.write_text(json.dumps({**state, "done": True}))


def train(run_dir: str | Path, cfg: TrainConfig | None = None) -> Path:
    """Train the float U-Net into run_dir (config.json, split.json, float.weights.h5, float_model.h5, curves)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_file = run_dir / "config.json"
    if cfg is None:
        cfg = TrainConfig.load(cfg_file)
    elif cfg_file.exists() and TrainConfig.load(cfg_file) != cfg:
        raise ValueError(f"{run_dir} holds a run with another configuration; use a new --run directory")
    cfg_file.write_text(json.dumps(asdict(cfg), indent=1))
    keras.utils.set_random_seed(cfg.seed)
    data = prepare_data(cfg, run_dir)
    print(
        f"data: {len(data['train'][2])} train, {len(data.get('val', ((), (), []))[2])} val images "
        f"at {cfg.input_size[0]}x{cfg.input_size[1]}",
        flush=True,
    )
    model = build_unet(cfg.base_filters, cfg.input_size, stem=cfg.stem)
    print(f"model: {model.name}, {model.count_params():,} parameters", flush=True)
    fit(model, data, run_dir, "float", cfg.epochs, cfg, cfg.learning_rate, cfg.schedule)
    model.load_weights(str(run_dir / "float.weights.h5"))
    model.save(str(run_dir / "float_model.h5"), include_optimizer=False)
    return run_dir / "float_model.h5"
