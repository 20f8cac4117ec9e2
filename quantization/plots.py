"""The pictures a run writes: training curves (the paper's Figure 3) and images beside their annotation and
predictions (its Figure 4)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from edge.live.overlay import draw_overlay


def _pyplot():
    """matplotlib's pyplot on its file-only backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history_csv: Path, out_png: Path, title: str) -> None:
    """Loss and accuracy per epoch, train vs validation (the paper's Figure 3)."""
    plt = _pyplot()
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


def figure4(shown: dict, out: Path, title: str = "held-out images (B-mode crop)", panel_inches: float = 3) -> None:
    """Image / annotation / each model's prediction inside the B-mode crop, a row per image (the paper's Figure 4)."""
    plt = _pyplot()
    if not shown:
        return
    models = list(next(iter(shown.values()))[3])
    cols = 2 + len(models)
    aspect = float(np.mean([v[1].shape[0] / v[1].shape[1] for v in shown.values()]))
    size = (panel_inches * cols, panel_inches * aspect * len(shown) + 0.8)
    fig, axes = plt.subplots(len(shown), cols, figsize=size, squeeze=False)
    for row, (name, (key, image, labels, preds)) in enumerate(shown.items()):
        panels = [("image", image), ("annotation", draw_overlay(image, labels))]
        panels += [(m, draw_overlay(image, p)) for m, p in preds.items()]
        for col, (heading, pic) in enumerate(panels):
            ax = axes[row, col]
            pic = pic if pic.ndim == 2 else cv2.cvtColor(pic[..., :3], cv2.COLOR_BGR2RGB)
            ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(heading)
        axes[row, 0].set_ylabel(f"{name}\n{key}", fontsize=8)
    fig.suptitle(f"{title}: fascia (yellow), tissue below (blue); annotation and predictions")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
