"""The pictures a run writes: training curves (the paper's Figure 3)."""

from __future__ import annotations

import csv
from pathlib import Path


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
