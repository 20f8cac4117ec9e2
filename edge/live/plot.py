"""A line plot drawn with OpenCV (the board needs no matplotlib): thickness over time."""

from __future__ import annotations

import math

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_GOOD, _FLAGGED, _AXIS, _GRID, _MEDIAN = (40, 150, 40), (150, 150, 150), (40, 40, 40), (225, 225, 225), (30, 90, 220)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int(math.ceil((hi - first) / step)) + 1)]


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45, colour=_AXIS) -> None:
    cv2.putText(img, text, org, _FONT, scale, colour, 1, cv2.LINE_AA)


def plot_series(
    times: list[float],
    values: list[float | None],
    good: list[bool],
    title: str,
    y_label: str,
    size: tuple[int, int] = (960, 380),
) -> np.ndarray:
    """BGR picture: good values as a green line with dots, flagged frames as grey ticks, the median dashed."""
    w, h = size
    left, right, top, bottom = 70, 20, 76, 50
    img = np.full((h, w, 3), 255, np.uint8)
    _text(img, title, (left, 22), 0.6)
    t = np.asarray(times, float)
    v = np.array([np.nan if x is None else x for x in values], float)
    ok = np.asarray(good, bool) & np.isfinite(v)
    t_lo, t_hi = (float(t.min()), float(t.max())) if t.size else (0.0, 1.0)
    v_lo, v_hi = (float(v[ok].min()), float(v[ok].max())) if ok.any() else (0.0, 1.0)
    pad = max((v_hi - v_lo) * 0.1, 0.05 * max(abs(v_hi), 1e-3))
    yt, xt = nice_ticks(v_lo - pad, v_hi + pad), nice_ticks(t_lo, max(t_hi, t_lo + 1e-3))
    y0, y1, x0, x1 = yt[0], yt[-1], xt[0], xt[-1]

    def px(tt: np.ndarray, vv: np.ndarray) -> np.ndarray:
        x = left + (tt - x0) / (x1 - x0) * (w - left - right)
        y = h - bottom - (vv - y0) / (y1 - y0) * (h - top - bottom)
        return np.stack([x, y], axis=-1).round().astype(np.int32)

    for val in yt:
        y = int(px(np.array([x0]), np.array([val]))[0, 1])
        cv2.line(img, (left, y), (w - right, y), _GRID, 1)
        _text(img, f"{val:g}", (8, y + 4))
    for val in xt:
        x = int(px(np.array([val]), np.array([y0]))[0, 0])
        cv2.line(img, (x, top), (x, h - bottom), _GRID, 1)
        _text(img, f"{val:g}", (x - 10, h - bottom + 18))
    cv2.rectangle(img, (left, top), (w - right, h - bottom), _AXIS, 1)
    _text(img, "time (s)", (w // 2 - 30, h - 10))
    _text(img, y_label, (8, top - 12))
    flagged = ~ok
    if flagged.any():
        xs = px(t[flagged], np.full(flagged.sum(), y0))[:, 0]
        for x in xs:
            cv2.line(img, (int(x), h - bottom - 8), (int(x), h - bottom - 1), _FLAGGED, 1)
    if ok.any():
        pts = px(t[ok], v[ok])
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, _GOOD, 1, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, (int(p[0]), int(p[1])), 2, _GOOD, -1, cv2.LINE_AA)
        med = float(np.median(v[ok]))
        ym = int(px(np.array([x0]), np.array([med]))[0, 1])
        for x in range(left, w - right, 12):
            cv2.line(img, (x, ym), (min(x + 6, w - right), ym), _MEDIAN, 1)
        _text(img, f"median {med:.3g}", (left + 6, ym - 6), colour=_MEDIAN)
    else:
        _text(img, "no good measurement", (w // 2 - 90, (top + h - bottom) // 2), 0.6, _FLAGGED)
    legend = f"{int(ok.sum())} good frames (green line), {int(flagged.sum())} flagged (grey ticks)"
    _text(img, legend, (left, 42), 0.45, _AXIS)
    return img
