"""Model output -> class map at the model's resolution and in the native frame."""

from __future__ import annotations

import cv2
import numpy as np

from edge.labels import NUM_CLASSES
from edge.roi import Box


def class_map(probs: np.ndarray) -> np.ndarray:
    """(H, W, C) scores -> (H, W) uint8 class ids."""
    return np.argmax(probs, axis=-1).astype(np.uint8)


def upsampled_class_map(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`class_map` of the probabilities upsampled bilinearly to `size` (w, h); identical to argmax, ties included.

    Each class plane is resized on its own and the three are compared pairwise with OpenCV, at a third of
    the cost of numpy's argmax over a last axis of 3.
    """
    if probs.ndim != 3 or probs.shape[2] != NUM_CLASSES:
        raise ValueError(f"expected (H, W, {NUM_CLASSES}) class probabilities, got shape {probs.shape}")
    p0, p1, p2 = (cv2.resize(p, size, interpolation=cv2.INTER_LINEAR) for p in cv2.split(probs.astype(np.float32)))
    gt10, gt21, gt20 = cv2.compare(p1, p0, cv2.CMP_GT), cv2.compare(p2, p1, cv2.CMP_GT), cv2.compare(p2, p0, cv2.CMP_GT)
    is1 = cv2.subtract(gt10, gt21)  # 255 where p1 > p0 and p1 >= p2 (masks are 0/255; 0 - 255 saturates to 0)
    is2 = cv2.min(gt21, gt20)  # 255 where p2 > p1 and p2 > p0
    return cv2.addWeighted(is1, 1 / 255, is2, 2 / 255, 0)  # argmax: 0 where neither


def to_native(probs: np.ndarray, roi: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Class map in the native frame: probabilities upsampled bilinearly into the ROI, then argmax.

    Outside the ROI the nearest ROI row/column is repeated (above stays above, below stays below),
    so the map covers the whole frame with 0/1/2.
    """
    roi.check_fits(frame_shape)
    labels = upsampled_class_map(probs, (roi.w, roi.h))
    h, w = frame_shape[:2]
    if (roi.w, roi.h) == (w, h):
        return labels
    return cv2.copyMakeBorder(labels, roi.y, h - roi.y - roi.h, roi.x, w - roi.x - roi.w, cv2.BORDER_REPLICATE)
