"""The paper's metrics, one implementation for every caller: confusion matrix over valid pixels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.core.labels import CLASS_NAMES, IGNORE, NUM_CLASSES

#: What the paper reported on its 87 TLF test images (Bonaldi et al. 2025), for comparison lines.
PAPER_SCORES = {"accuracy": 0.94, "mean_iou": 0.82, "dice": 0.76}


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(num_classes, num_classes) counts, rows = target, columns = prediction; IGNORE pixels excluded."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    valid = target != IGNORE
    t = target[valid].astype(np.int64)
    p = pred[valid].astype(np.int64)
    if t.size and (t.max() >= num_classes or p.max() >= num_classes):
        raise ValueError(f"labels outside 0..{num_classes - 1} (besides {IGNORE})")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def scores(cm: np.ndarray) -> dict:
    """Accuracy, per-class IoU and Dice, and their means, from a confusion matrix.

    A class absent from both prediction and target has no IoU/Dice (NaN) and is left out of the means.
    """
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (tp + fp + fn)
        dice = 2 * tp / (2 * tp + fp + fn)
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "iou": {n: float(v) for n, v in zip(CLASS_NAMES, iou)},
        "dice": {n: float(v) for n, v in zip(CLASS_NAMES, dice)},
        "mean_iou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "mean_dice": float(np.nanmean(dice)) if np.isfinite(dice).any() else float("nan"),
        "pixels": int(total),
    }


@dataclass
class SetMetrics:
    """Accumulates a whole set: micro scores (one confusion matrix) and per-image scores."""

    num_classes: int = NUM_CLASSES
    total: np.ndarray = field(default_factory=lambda: np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64))
    per_image: dict[str, dict] = field(default_factory=dict)

    def add(self, name: str, pred: np.ndarray, target: np.ndarray) -> dict:
        cm = confusion_matrix(pred, target, self.num_classes)
        self.total += cm
        self.per_image[name] = scores(cm)
        return self.per_image[name]

    def worst(self, count: int, cls: str = "fascia") -> list[tuple[str, float]]:
        """The `count` images with the lowest Dice of `cls`, lowest first (images where it is undefined left out)."""
        dice = [(n, p["dice"][cls]) for n, p in self.per_image.items() if np.isfinite(p["dice"][cls])]
        return sorted(dice, key=lambda item: item[1])[:count]

    def summary(self) -> dict:
        """Micro scores over all pixels, plus the mean over images of each per-image score."""
        per = list(self.per_image.values())

        def mean_of(key: str, sub: str | None = None) -> float:
            vals = [p[key][sub] if sub else p[key] for p in per]
            vals = [v for v in vals if np.isfinite(v)]
            return float(np.mean(vals)) if vals else float("nan")

        fascia = np.array([p["dice"]["fascia"] for p in per], np.float64)
        fascia = fascia[np.isfinite(fascia)]
        return {
            "images": len(per),
            "micro": scores(self.total),
            "fascia_dice_per_image": {
                "p10": float(np.percentile(fascia, 10)) if fascia.size else float("nan"),
                "median": float(np.median(fascia)) if fascia.size else float("nan"),
                "worst": [[n, round(d, 4)] for n, d in self.worst(5)],
            },
            "per_image_mean": {
                "accuracy": mean_of("accuracy"),
                "mean_iou": mean_of("mean_iou"),
                "mean_dice": mean_of("mean_dice"),
                "fascia_dice": mean_of("dice", "fascia"),
                "fascia_iou": mean_of("iou", "fascia"),
            },
        }
