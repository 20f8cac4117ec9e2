"""Float training with the paper's recipe (categorical cross-entropy over labelled pixels, Adam, batch 16, 200
epochs), resumable after an interruption, with early stopping on request: the batches and their soft targets, the
loss, and the fit that checkpoints every epoch."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edge.core.labels import FASCIA, IGNORE, NUM_CLASSES
from quantization.augment import augmentations
from quantization.config import TrainConfig, teacher_runs
from quantization.devices import strategy
from quantization.distill import Distillation, distilled, load_teacher
from quantization.plots import plot_curves
from quantization.run_data import prepare_data
from quantization.tfenv import keras, tf
from quantization.unet import build_unet


def soft_targets(stride: int):
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
    seed: int,
    stride: int = 1,
    maps=(),
    shares: np.ndarray | None = None,
):
    """(image, soft targets, weights) batches; `maps` (`augment.augmentations`) run in order before the targets,
    `stride` is input size / the model's output size. `shares` (one per image), where given, ride along as a fourth
    element: each image's part of a teacher's share of its targets (`distill.distilled`).

    The augmentations keep the input's size but some (a resize to a computed size) lose its static shape; it is
    restored after them, so what follows (a teacher's grid in `distilled`) can read it."""
    shape = x.shape[1:]
    carried = () if shares is None else (np.asarray(shares, np.float32),)
    ds = tf.data.Dataset.from_tensor_slices((x, y, *carried))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    for augmentation in maps:
        ds = ds.map(_on_image(augmentation), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_on_image(lambda a, b: (tf.ensure_shape(a, shape), tf.ensure_shape(b, shape[:2]))))
    ds = ds.map(_on_image(soft_targets(stride)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)


def _on_image(fn):
    """`fn` of (image, labels) applied to a dataset element, the elements after them carried along unchanged."""
    return lambda x, y, *carried: (*fn(x, y), *carried)


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


class RunState(keras.callbacks.Callback):
    """Per epoch: checkpoint (model + optimizer), history row, best (or with `last`, the latest) weights, curves,
    early stopping."""

    def __init__(
        self, run_dir: Path, manager, epoch_var, patience: int | None, title: str, best_name: str, last: bool = False
    ):
        super().__init__()
        self.run_dir, self.manager, self.epoch_var, self.last = run_dir, manager, epoch_var, last
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
        else:
            self.wait += 1
        if self.last or not self.wait:
            self.model.save_weights(str(self.run_dir / f"{self.best_name}.weights.h5"))
        self.epoch_var.assign(epoch + 1)
        self.manager.save()
        self.state_file.write_text(json.dumps({"best": self.best, "wait": self.wait, "epoch": epoch + 1}))
        plot_curves(self.history, self.run_dir / f"{self.best_name}_curves.png", self.title)
        if self.patience is not None and self.wait >= self.patience:
            print(f"early stopping: validation loss has not improved for {self.wait} epochs", flush=True)
            self.model.stop_training = True


def fit(
    model,
    data: dict,
    run_dir: Path,
    name: str,
    epochs: int,
    cfg: TrainConfig,
    learning_rate: float,
    schedule: str = "constant",
    distillation: Distillation | None = None,
    last: bool = False,
) -> None:
    """Fit `model` (built under `devices.strategy()`'s scope) on data['train'] (validated on data['val'] where there
    is one), resuming from run_dir/name checkpoints.

    ``schedule="cosine"`` decays the rate to 0 over `epochs` (the step count is restored with the optimizer).
    `distillation` blends teachers into the targets; by default the teacher runs of ``cfg.teacher``, if any.
    `last` keeps the last epoch's weights (run_dir/name.weights.h5) rather than those of the lowest loss.
    """
    x, y, _ = data["train"]
    if schedule == "cosine":
        steps = epochs * math.ceil(len(x) / cfg.batch_size)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    elif schedule != "constant":
        raise ValueError(f"unknown learning-rate schedule {schedule!r} (constant or cosine)")
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    with strategy().scope():
        compile_model(model, learning_rate, cfg.dice_weight)
        ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch_var)
        manager = tf.train.CheckpointManager(ckpt, str(run_dir / f"{name}_ckpt"), max_to_keep=1)
        if manager.latest_checkpoint:
            ckpt.restore(manager.latest_checkpoint).expect_partial()
            print(f"resuming {name} from epoch {int(epoch_var.numpy())}", flush=True)
    state_file = run_dir / f"{name}.state.json"
    if state_file.exists() and json.loads(state_file.read_text()).get("done"):
        print(f"{name}: already finished", flush=True)
        return
    if distillation is None and cfg.teacher:
        teachers = [load_teacher(t, run_dir, model.output_shape) for t in teacher_runs(cfg.teacher)]
        distillation = Distillation(teachers, cfg.distill)
    stride = x.shape[1] // model.output_shape[1]
    shares = distillation.per_image if distillation else None
    train_ds = make_dataset(x, y, cfg.batch_size, True, cfg.seed, stride, augmentations(cfg), shares)
    if distillation:
        train_ds = distilled(train_ds, distillation.teachers, distillation.share)
    val = data.get("val")
    val_ds = make_dataset(val[0], val[1], cfg.batch_size, False, cfg.seed, stride) if val else None
    callback = RunState(run_dir, manager, epoch_var, cfg.patience, f"{model.name}: {name}", name, last)
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
    with strategy().scope():
        model = build_unet(cfg.base_filters, cfg.input_size, stem=cfg.stem)
    print(f"model: {model.name}, {model.count_params():,} parameters", flush=True)
    fit(model, data, run_dir, "float", cfg.epochs, cfg, cfg.learning_rate, cfg.schedule)
    model = build_unet(cfg.base_filters, cfg.input_size, stem=cfg.stem)  # the best weights, in no strategy's scope
    model.load_weights(str(run_dir / "float.weights.h5"))
    model.save(str(run_dir / "float_model.h5"), include_optimizer=False)
    return run_dir / "float_model.h5"
