"""The report as one HTML file: pictures as base64 data, styles inline, no address outside the file."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from html import escape

import cv2
import numpy as np

from clinic.patient import Patient
from clinic.recording import Recording, Stats
from clinic.report.trend import trend_plot
from clinic.report.words import caveats
from clinic.stills import key_stills
from edge.measurement.flags import words

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
th{background:#f2f2f2}.frames img{width:32%;margin-right:1%;border:1px solid #999}.muted{color:#666;font-size:13px}
.note{background:#fff8e0;border:1px solid #e6d28a;padding:8px 12px}
@media print{body{margin:8mm}}
"""


def data_uri(picture_bgr: np.ndarray, fmt: str = ".jpg") -> str:
    ok, data = cv2.imencode(fmt, picture_bgr, [cv2.IMWRITE_JPEG_QUALITY, 88] if fmt == ".jpg" else [])
    if not ok:
        raise ValueError(f"cannot encode a picture as {fmt}")
    mime = "image/jpeg" if fmt == ".jpg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data.tobytes()).decode()}"


def pooled(recordings: list[Recording]) -> Recording:
    """The recordings of one side of one visit as one (their frames together)."""
    first = recordings[0]
    return replace(first, frames=[f for r in recordings for f in r.frames])


def _num(v: float | None, unit: str) -> str:
    return "-" if v is None else f"{v:.2f} {unit}" if unit == "mm" else f"{v:.1f} {unit}"


def _stats_row(label: str, s: Stats) -> str:
    iqr = "-" if s.median is None else f"{_num(s.p25, s.unit)} to {_num(s.p75, s.unit)} (IQR {_num(s.iqr, s.unit)})"
    return f"<tr><td>{label}</td><td>{_num(s.median, s.unit)}</td><td>{iqr}</td><td>{s.used}</td></tr>"


def side_section(side: str | None, recs: list[Recording], key_frames: int) -> tuple[str, dict]:
    rec = pooled(recs)
    t, e = rec.thickness(), rec.echogenicity()
    flags = rec.flag_counts()
    reasons = "".join(
        f"<li>{n} frame(s): {escape(words(f))} (<code>{escape(f)}</code>)</li>" for f, n in sorted(flags.items())
    )
    pictures = []
    for r in recs:
        idx = r.key_frames(key_frames)
        shots = key_stills(r, idx)
        for i in idx:
            if i in shots:
                f = r.frames[i]
                alt = f"frame {f.get('seq')} at {f.get('t_s')} s, thickness {f.get('thickness_' + r.unit)} {r.unit}"
                pictures.append(f'<img src="{data_uri(shots[i])}" alt="{escape(alt)}" title="{escape(alt)}">')
    title = (side or "side not given").capitalize()
    html = f"""<h2>{escape(title)}</h2>
<p class="muted">recordings: {escape(", ".join(r.folder.name for r in recs))}; {len(rec.frames)} frames</p>
<div class="frames">{"".join(pictures) or "<p>No frame with a good measurement to show.</p>"}</div>
<table><tr><th></th><th>median</th><th>middle half of frames</th><th>frames used</th></tr>
{_stats_row("fascia thickness", t)}{_stats_row("echogenicity (grey level 0-255)", e)}</table>
<p>{rec.flagged} of {len(rec.frames)} frames flagged and left out{":" if flags else "."}</p><ul>{reasons}</ul>"""
    data = {
        "side": side,
        "frames": len(rec.frames),
        "flagged": rec.flagged,
        "flags": dict(flags),
        "thickness": vars(t),
        "echogenicity": vars(e),
    }
    return html, data


def _compare(sides: dict) -> str:
    if not {"left", "right"} <= sides.keys():
        return ""
    lt, rt = sides["left"]["thickness"], sides["right"]["thickness"]
    le, re_ = sides["left"]["echogenicity"], sides["right"]["echogenicity"]
    if lt["median"] is None or rt["median"] is None:
        return "<h2>Left and right</h2><p>One side has no good measurement: no comparison.</p>"
    unit = lt["unit"]
    d = rt["median"] - lt["median"]
    de = (re_["median"] - le["median"]) if le["median"] is not None and re_["median"] is not None else None
    spread = max(lt["p75"] - lt["p25"], rt["p75"] - rt["p25"])
    verdict = "within the spread between frames" if abs(d) <= spread else "larger than the spread between frames"
    return f"""<h2>Left and right</h2><table><tr><th></th><th>left</th><th>right</th><th>right - left</th></tr>
<tr><td>thickness</td><td>{_num(lt["median"], unit)}</td><td>{_num(rt["median"], unit)}</td>
<td>{d:+.2f} {unit}</td></tr>
<tr><td>echogenicity</td><td>{_num(le["median"], "")}</td><td>{_num(re_["median"], "")}</td>
<td>{"-" if de is None else f"{de:+.1f}"}</td></tr></table><p>The thickness difference is {verdict}.</p>"""


def _by_side(recs: list[Recording]) -> dict[str | None, list[Recording]]:
    out: dict[str | None, list[Recording]] = {}
    for r in sorted(recs, key=lambda r: (r.side is None, r.side or "")):
        out.setdefault(r.side, []).append(r)
    return out


def _trend(visits: dict[str, list[Recording]]) -> tuple[str, list]:
    labels = sorted(visits)
    units = {r.unit for recs in visits.values() for r in recs}
    sides = sorted({r.side for recs in visits.values() for r in recs}, key=lambda s: (s is None, s or ""))
    series, rows = {}, []
    for side in sides:
        points = []
        for label in labels:
            recs = [r for r in visits[label] if r.side == side]
            t = pooled(recs).thickness() if recs else None
            points.append((t.median, t.p25, t.p75) if t and t.median is not None else None)
            rows.append({"visit": label, "side": side, "median": points[-1] and points[-1][0]})
        series[side] = points
    unit = units.pop() if len(units) == 1 else "mixed units"
    picture = trend_plot(labels, series, unit)
    table = "".join(
        f"<tr><td>{escape(r['visit'])}</td><td>{escape(r['side'] or '-')}</td><td>{_num(r['median'], unit)}</td></tr>"
        for r in rows
    )
    html = f"""<h2>Change over visits</h2><img src="{data_uri(picture, ".png")}" alt="thickness per visit">
<table><tr><th>visit</th><th>side</th><th>median thickness</th></tr>{table}</table>"""
    return html, rows


def _patient(p: Patient) -> str:
    fields = [("name", p.patient_name), ("ID", p.patient_id), ("born", p.patient_birth_date), ("sex", p.patient_sex)]
    shown = [f"{k}: {escape(str(v).replace('^', ' '))}" for k, v in fields if v]
    return " &middot; ".join(shown) or "patient not given"


def _calibration(recs: list[Recording]) -> str:
    values = sorted({v for r in recs for v in r.mm_per_px})
    if not values:
        return (
            "none: thickness is in pixels of the screen capture (tlfseg run takes --mm-per-px, --depth-mm or a preset)"
        )
    return (
        ", ".join(f"{v:g} mm per pixel" for v in values)
        + " (as set when recording: --mm-per-px, --depth-mm or a scanner preset)"
    )


def build_report(recordings: list[Recording], patient: Patient | None = None, key_frames: int = 3) -> str:
    """The HTML of the latest visit's report (earlier visits' recordings feed the change over visits)."""
    from edge import __version__

    if not recordings:
        raise ValueError("no recording to report on")
    patient = patient or Patient()
    visits: dict[str, list[Recording]] = {}
    for r in recordings:
        visits.setdefault(r.visit, []).append(r)
    current = max(visits)
    sections, sides = [], {}
    for side, recs in _by_side(visits[current]).items():
        html, data = side_section(side, recs, key_frames)
        sections.append(html)
        sides[side or "unknown"] = data
    trend, rows = _trend(visits) if len(visits) > 1 else ("", [])
    models = sorted({r.summary.get("model", "unknown model") for r in visits[current]})
    data = {"visit": current, "sides": sides, "visits": rows, "tlfseg": __version__}
    notes = "".join(f"<li>{escape(c)}</li>" for c in caveats())
    embedded = json.dumps(data).replace("</", "<\\/")  # the numbers, machine-readable; never closes the script
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Fascia report {escape(current)}</title><style>{_CSS}</style></head>
<body><h1>Thoracolumbar fascia: thickness and echogenicity</h1>
<p>{_patient(patient)} &middot; visit {escape(current)}</p>
{"".join(sections)}{_compare(sides)}{trend}
<h2>How far to trust these numbers</h2><div class="note"><ul>{notes}</ul></div>
<h2>How they were measured</h2><p>Calibration: {escape(_calibration(visits[current]))}.</p>
<p>Model: {escape("; ".join(models))}. tlfseg {escape(__version__)}.</p>
<p class="muted">Thickness: per frame, the median perpendicular thickness of the band across the picture;
echogenicity: the band's mean grey level. Per recording the median over good frames, with the middle half of
frames (25th to 75th percentile).</p>
<script type="application/json" id="tlfseg-data">{embedded}</script>
</body></html>
"""
