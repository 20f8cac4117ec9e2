"""Model output -> class map at the model's resolution and in the native frame."""

from __future__ import annotations

import cv2
import numpy as np

from edge.roi import Box


def class_map(probs: np.ndarray) -> np.ndarray:
    """(H, W, C) scores -> (H, W) uint8 class ids."""
    return np.argmax(probs, axis=-1).astype(np.uint8)


def to_native(probs: np.ndarray, roi: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Class map in the native frame: probabilities upsampled bilinearly into the ROI, then argmax.

    Outside the ROI the nearest ROI row/column is repeated (above stays above, below stays below),
    so the map covers the whole frame with 0/1/2.
    """
    roi.check_fits(frame_shape)
    up = cv2.resize(probs.astype(np.float32, copy=False), (roi.w, roi.h), interpolation=cv2.INTER_LINEAR)
    labels = class_map(up.reshape(roi.h, roi.w, -1))
    h, w = frame_shape[:2]
    if (roi.w, roi.h) == (w, h):
        return labels
    return cv2.copyMakeBorder(labels, roi.y, h - roi.y - roi.h, roi.x, w - roi.x - roi.w, cv2.BORDER_REPLICATE)
