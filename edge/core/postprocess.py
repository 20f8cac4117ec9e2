"""Model output -> class map at the model's resolution and in the native frame."""

from __future__ import annotations

import cv2
import numpy as np

from edge.core.labels import NUM_CLASSES
from edge.core.roi import Box


def class_map(probs: np.ndarray) -> np.ndarray:
    """(H, W, C) scores -> (H, W) uint8 class ids."""
    return np.argmax(probs, axis=-1).astype(np.uint8)


def _classes(d10: np.ndarray, d21: np.ndarray) -> np.ndarray:
    """argmax from the differences p1 - p0 and p2 - p1 (float32 planes), the lower class winning ties."""
    gt10, gt21 = cv2.compare(d10, 0, cv2.CMP_GT), cv2.compare(d21, 0, cv2.CMP_GT)
    gt20 = cv2.compare(cv2.add(d10, d21), 0, cv2.CMP_GT)
    is1 = cv2.subtract(gt10, gt21)  # 255 where p1 > p0 and p1 >= p2 (masks are 0/255; 0 - 255 saturates to 0)
    is2 = cv2.min(gt21, gt20)  # 255 where p2 > p1 and p2 > p0
    return cv2.bitwise_or(cv2.bitwise_and(is1, 1), cv2.bitwise_and(is2, 2))


def upsampled_class_map(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`class_map` of the probabilities upsampled bilinearly to `size` (w, h), lower class winning ties.

    Bilinear interpolation is linear and separable, so only p1 - p0 and p2 - p1 are interpolated, rows first:
    the classes at the native rows and the model's columns are cheap (h x w). Between two model columns of the
    same class every pixel has that class (each class is a convex region of the two differences), so a row
    whose model columns all agree is that class from edge to edge; only native rows where the class changes
    from one model column to the next are interpolated in full. Near the band that is a few rows in ten: less
    than a third of the cost of interpolating every pixel on a 1000x900 ROI. A noisy map (class changes in most
    rows) is interpolated everywhere.
    """
    if probs.ndim != 3 or probs.shape[2] != NUM_CLASSES:
        raise ValueError(f"expected (H, W, {NUM_CLASSES}) class probabilities, got shape {probs.shape}")
    w, h = size
    p0, p1, p2 = cv2.split(probs.astype(np.float32, copy=False))
    columns = p0.shape[1]
    d10, d21 = (cv2.resize(b - a, (columns, h), interpolation=cv2.INTER_LINEAR) for a, b in ((p0, p1), (p1, p2)))
    coarse = _classes(d10, d21)  # (h, model columns)
    rows = np.zeros(0, np.intp)
    if columns > 1:
        changes = cv2.compare(coarse[:, :-1], coarse[:, 1:], cv2.CMP_NE)
        rows = np.flatnonzero(cv2.reduce(changes, 1, cv2.REDUCE_MAX))
    if rows.size > h // 2:  # a noisy map: interpolate every pixel
        return _classes(*(cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR) for d in (d10, d21)))
    labels = np.empty((h, w), np.uint8)
    labels[:] = coarse[:, :1]  # a row without a change is one class from edge to edge
    if rows.size:
        full = (cv2.resize(d[rows], (w, rows.size), interpolation=cv2.INTER_LINEAR) for d in (d10, d21))
        labels[rows] = _classes(*full)
    return labels


def extend_to_frame(labels: np.ndarray, roi: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """The ROI's class map placed in the native frame; outside the ROI the nearest ROI row/column is repeated
    (above stays above, below stays below), so the map covers the whole frame with 0/1/2."""
    roi.check_fits(frame_shape)
    if labels.shape != (roi.h, roi.w):
        raise ValueError(f"ROI labels are {labels.shape}, the ROI {roi} is ({roi.h}, {roi.w})")
    h, w = frame_shape[:2]
    if (roi.w, roi.h) == (w, h):
        return labels
    return cv2.copyMakeBorder(labels, roi.y, h - roi.y - roi.h, roi.x, w - roi.x - roi.w, cv2.BORDER_REPLICATE)


def to_native(probs: np.ndarray, roi: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Class map in the native frame: probabilities upsampled bilinearly into the ROI, argmax, then
    `extend_to_frame` (which checks that the ROI fits)."""
    return extend_to_frame(upsampled_class_map(probs, (roi.w, roi.h)), roi, frame_shape)
