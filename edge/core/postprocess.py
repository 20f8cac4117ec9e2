"""Model output -> class map at the model's resolution and in the native frame, or the native fascia alone."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from edge.core.fascia import FasciaRows
from edge.core.labels import FASCIA, NUM_CLASSES
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


def _differences(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p1 - p0 and p2 - p1 of (H, W, 3) class probabilities, float32 planes."""
    if probs.ndim != 3 or probs.shape[2] != NUM_CLASSES:
        raise ValueError(f"expected (H, W, {NUM_CLASSES}) class probabilities, got shape {probs.shape}")
    p = probs.astype(np.float32, copy=False)
    return p[..., 1] - p[..., 0], p[..., 2] - p[..., 1]


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
    w, h = size
    columns = probs.shape[1]
    d10, d21 = (cv2.resize(d, (columns, h), interpolation=cv2.INTER_LINEAR) for d in _differences(probs))
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


@lru_cache(maxsize=16)
def _taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cv2.resize's INTER_LINEAR taps from `src` samples to `dst`: each output's first source sample and the float32
    weight of the next one (0 where the output lies beyond the first or last sample's centre), and how many outputs
    each source sample is the first of (read-only, cached: a stream asks for the same sizes every frame)."""
    f = ((np.arange(dst) + 0.5) * (1.0 / (dst / src)) - 0.5).astype(np.float32)  # OpenCV's arithmetic, to the bit
    first = np.floor(f).astype(np.intp)
    weight = f - first.astype(np.float32)
    weight[(first < 0) | (first >= src - 1)] = 0.0
    first = np.clip(first, 0, src - 1)
    taps = first, weight, np.bincount(first, minlength=src)
    for a in taps:
        a.flags.writeable = False
    return taps


def _any_of_pairs(m: np.ndarray) -> np.ndarray:
    """Per pair of neighbouring rows and columns of a bool map (a 2x2 block): whether any of the four holds."""
    if m.shape[0] > 1:
        m = m[:-1] | m[1:]
    return m[:, :-1] | m[:, 1:] if m.shape[1] > 1 else m


def fascia_rows(probs: np.ndarray, size: tuple[int, int]) -> FasciaRows:
    """The fascia of `upsampled_class_map(probs, size)` without making the map: the same interpolation (rows first),
    done only in the native rows where a pixel can be fascia, and there only between model columns of different
    classes.

    A native pixel interpolates the four model cells around it with weights >= 0, so it can be fascia (p1 > p0 and
    p2 <= p1) only where p1 > p0 in one of them and p2 <= p1 in one; the rows of such blocks are a few around the
    band. Between two model columns of one class every pixel has that class (`upsampled_class_map`). Equal to the
    class map's fascia up to the rounding of a float exactly at a class boundary.
    """
    w, h = size
    d10, d21 = _differences(probs)
    rows_of, row_weight, _ = _taps(d10.shape[0], h)
    could = _any_of_pairs(d10 > 0) & _any_of_pairs(d21 <= 0)  # per block of 2x2 model cells
    rows = np.flatnonzero(could.any(axis=1)[np.minimum(rows_of, could.shape[0] - 1)])
    if not rows.size:
        return FasciaRows(0, np.zeros((0, w), np.uint8), h)
    y0, a = rows_of[rows], row_weight[rows, None]
    y1 = np.minimum(y0 + 1, d10.shape[0] - 1)
    v10, v21 = (d[y0] * (1 - a) + d[y1] * a for d in (d10, d21))  # at those rows and the model's columns
    coarse = _classes(v10, v21)
    x0, b, count = _taps(d10.shape[1], w)  # native column x lies between model columns x0[x] and nxt[x0[x]]
    nxt = np.minimum(np.arange(1, coarse.shape[1] + 1), coarse.shape[1] - 1)
    both = cv2.min(cv2.compare(coarse, FASCIA, cv2.CMP_EQ), cv2.compare(coarse[:, nxt], FASCIA, cv2.CMP_EQ))
    mask = cv2.transpose(np.repeat(np.ascontiguousarray(both.T), count, axis=0))  # each model column's natives
    r, c = np.nonzero(coarse != coarse[:, nxt])  # rows and model columns whose class differs from the next one's
    if r.size:  # the native pixels between them, interpolated
        n, starts = count[c], np.cumsum(count) - count  # each pair's native columns; each model column's first
        x = np.arange(n.sum()) + np.repeat(starts[c] - (np.cumsum(n) - n), n)
        f10, f21 = (np.repeat(v[r, c], n) * (1 - b[x]) + np.repeat(v[r, nxt[c]], n) * b[x] for v in (v10, v21))
        mask[np.repeat(r, n), x] = cv2.compare(_classes(f10[:, None], f21[:, None]), FASCIA, cv2.CMP_EQ)[:, 0]
    return FasciaRows.from_rows(mask, rows, h)


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
