"""The three anatomical classes, the ignore label, and the column-wise band -> classes rule."""

from __future__ import annotations

import numpy as np

ABOVE = 0  #: tissue above the fascia
FASCIA = 1  #: the fascia band
BELOW = 2  #: tissue below, epimysial fascia included
IGNORE = 255  #: excluded from loss and metrics (columns without a labelled band)
NUM_CLASSES = 3
CLASS_NAMES = ("above", "fascia", "below")

#: BGR overlay colours, one per class (above: none).
CLASS_COLOURS_BGR = {ABOVE: (0, 0, 0), FASCIA: (0, 215, 255), BELOW: (255, 140, 0)}


def band_mask_to_classes(band: np.ndarray) -> np.ndarray:
    """Turn a binary band mask (non-zero = band) into the 3-class label map, column by column.

    Rows above the first band pixel are ABOVE, the contiguous run starting there is FASCIA,
    everything below it is BELOW (deeper bands included); a column without band pixels is IGNORE.
    """
    if band.ndim != 2:
        raise ValueError(f"band mask must be 2-D, got shape {band.shape}")
    on = band > 0
    h, w = on.shape
    has = on.any(axis=0)
    top = np.argmax(on, axis=0)  # first band row per column (0 where none)
    # first non-band row at or below `top`: the end of the contiguous run
    rows = np.arange(h)[:, None]
    off_below = (~on) & (rows >= top[None, :])
    end = np.where(off_below.any(axis=0), np.argmax(off_below, axis=0), h)
    labels = np.full((h, w), BELOW, dtype=np.uint8)
    labels[rows < top[None, :]] = ABOVE
    labels[(rows >= top[None, :]) & (rows < end[None, :])] = FASCIA
    labels[:, ~has] = IGNORE
    return labels


def validate_labels(labels: np.ndarray, name: str = "label map") -> None:
    """Raise ValueError if `labels` holds values other than 0, 1, 2 and IGNORE."""
    bad = np.setdiff1d(np.unique(labels), [ABOVE, FASCIA, BELOW, IGNORE])
    if bad.size:
        raise ValueError(f"{name}: unknown label values {bad.tolist()} (expected 0, 1, 2 or {IGNORE})")
