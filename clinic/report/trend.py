"""The change over visits as an inline SVG: median thickness per visit and side with its IQR. Vector, so it is sharp
in print and scales to a phone's width with its text (its legend is HTML below it)."""

from __future__ import annotations

import math
from html import escape

from edge.live.plot import nice_ticks

COLOURS = {"left": "#1f6fc8", "right": "#e0701c", None: "#555555"}  #: per side
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 480, 250, 50, 12, 14, 40  #: the drawing, in its own units
FONT = 13  #: text size in those units (about 10 px at a phone's width, 16 px at most on a desktop)


def trend_svg(visits: list[str], series: dict[str | None, list[tuple[float, float, float] | None]], unit: str) -> str:
    """Per side a line through the visits' medians and a bar from p25 to p75 at each; gaps where a visit has none."""
    values = [v for points in series.values() for p in points if p for v in p]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((hi - lo) * 0.15, 0.05 * max(abs(hi), 1e-3))
    ticks = nice_ticks(lo - pad, hi + pad)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (i + 0.5) / len(visits) * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - (v - ticks[0]) / (ticks[-1] - ticks[0]) * plot_h

    out = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-size="{FONT}" '
        f'font-family="system-ui, sans-serif" aria-label="median thickness ({escape(unit)}) per visit, with its IQR">'
    ]
    for t in ticks:
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="#333">{t:g}</text>')
    every = max(1, math.ceil(len(visits) * 80 / plot_w))  # labels at least 80 units apart
    for i, visit in enumerate(visits):
        if i % every == 0:
            out.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 22}" text-anchor="middle" fill="#333">{escape(visit)}</text>'
            )
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{LEFT}" y="{HEIGHT - 4}" fill="#333">thickness ({escape(unit)}), median and IQR</text>')
    for n, (side, points) in enumerate(series.items()):
        colour, shift = COLOURS.get(side, COLOURS[None]), (n - (len(series) - 1) / 2) * 6
        at = [(x(i) + shift, p) for i, p in enumerate(points) if p]
        if len(at) > 1:
            line = " ".join(f"{px:.1f},{y(p[0]):.1f}" for px, p in at)
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, (median, p25, p75) in at:
            bar = f'x1="{px:.1f}" x2="{px:.1f}" y1="{y(p25):.1f}" y2="{y(p75):.1f}"'
            out.append(f'<line {bar} stroke="{colour}" stroke-width="3"/>')
            out.append(f'<circle cx="{px:.1f}" cy="{y(median):.1f}" r="4" fill="{colour}"/>')
    out.append("</svg>")
    swatch = '<svg width="14" height="10"><rect width="14" height="10" fill="{}"/></svg>'
    legend = "".join(
        f"<span>{swatch.format(COLOURS.get(s, COLOURS[None]))} {escape(s or 'side not given')}</span>" for s in series
    )
    return "".join(out) + f'<p class="legend">{legend}</p>'
