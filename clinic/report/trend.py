"""The change over visits: median thickness per visit and side, with its IQR, drawn with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from edge.live.plot import nice_ticks

_FONT = cv2.FONT_HERSHEY_SIMPLEX
COLOURS = {"left": (200, 110, 30), "right": (40, 120, 230), None: (60, 60, 60)}  #: BGR


def trend_plot(
    visits: list[str], series: dict[str | None, list[tuple[float, float, float] | None]], unit: str
) -> np.ndarray:
    """BGR picture: per side a line through the visits' medians, a bar for each IQR (p25, p75); gaps where None."""
    w, h, left, right, top, bottom = 760, 320, 70, 110, 30, 60
    img = np.full((h, w, 3), 255, np.uint8)
    values = [v for points in series.values() for p in points if p for v in p]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((hi - lo) * 0.15, 0.05 * max(abs(hi), 1e-3))
    ticks = nice_ticks(lo - pad, hi + pad)

    def xy(i: int, v: float) -> tuple[int, int]:
        x = left + (i + 0.5) / len(visits) * (w - left - right)
        y = h - bottom - (v - ticks[0]) / (ticks[-1] - ticks[0]) * (h - top - bottom)
        return round(x), round(y)

    for t in ticks:
        y = xy(0, t)[1]
        cv2.line(img, (left, y), (w - right, y), (225, 225, 225), 1)
        cv2.putText(img, f"{t:g}", (8, y + 4), _FONT, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
    for i, label in enumerate(visits):
        x = xy(i, ticks[0])[0]
        cv2.putText(img, label, (x - 40, h - bottom + 20), _FONT, 0.42, (40, 40, 40), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), (40, 40, 40), 1)
    cv2.putText(img, f"thickness ({unit}), median and IQR", (left, top - 10), _FONT, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
    for n, (side, points) in enumerate(series.items()):
        colour = COLOURS.get(side, COLOURS[None])
        shift = (n - (len(series) - 1) / 2) * 8
        pts = [(round(xy(i, p[0])[0] + shift), xy(i, p[0])[1]) for i, p in enumerate(points) if p]
        for i, p in enumerate(points):
            if p:
                x = round(xy(i, p[0])[0] + shift)
                cv2.line(img, (x, xy(i, p[1])[1]), (x, xy(i, p[2])[1]), colour, 2)
                cv2.circle(img, (x, xy(i, p[0])[1]), 4, colour, -1, cv2.LINE_AA)
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32).reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        y = top + 20 + 22 * n
        cv2.line(img, (w - right + 12, y - 4), (w - right + 32, y - 4), colour, 2)
        cv2.putText(img, side or "side ?", (w - right + 38, y), _FONT, 0.5, colour, 1, cv2.LINE_AA)
    return img
