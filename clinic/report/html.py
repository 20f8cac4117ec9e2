"""The report as one HTML file: pictures as base64 data, the style inline, no address outside the file."""

from __future__ import annotations

import json
from html import escape

from clinic.patient import Patient
from clinic.recording import Recording
from clinic.report.fmt import date, person_name
from clinic.report.sections import compare_section, side_section, trend_section
from clinic.report.style import page_style
from clinic.report.words import caveats


def _by_side(recs: list[Recording]) -> dict[str | None, list[Recording]]:
    out: dict[str | None, list[Recording]] = {}
    for r in sorted(recs, key=lambda r: (r.side is None, r.side or "")):
        out.setdefault(r.side, []).append(r)
    return out


def who(p: Patient) -> str:
    """The patient as a reader expects it ("Doe, Jane · ID P-007 · born 1980-04-12 · sex F"), only what was given."""
    fields = [
        ("", person_name(p.patient_name) if p.patient_name else None),
        ("ID ", p.patient_id),
        ("born ", date(p.patient_birth_date) if p.patient_birth_date else None),
        ("sex ", p.patient_sex),
    ]
    return " · ".join(f"{label}{value}" for label, value in fields if value) or "patient not given"


def _calibration(recs: list[Recording]) -> str:
    values = sorted({v for r in recs for v in r.log.mm_per_px})
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
    trend, rows = trend_section(visits) if len(visits) > 1 else ("", [])
    models = sorted({r.model or "unknown model" for r in visits[current]})
    data = {"visit": current, "sides": sides, "visits": rows, "tlfseg": __version__}
    notes = "".join(f"<li>{escape(c)}</li>" for c in caveats())
    embedded = json.dumps(data).replace("</", "<\\/")  # the numbers, machine-readable; never closes the script
    heading = f"{who(patient)} · visit {current}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fascia report {escape(current)}</title><style>{page_style(heading)}</style></head>
<body><header><h1>Thoracolumbar fascia: thickness and echogenicity</h1><p>{escape(heading)}</p></header>
{"".join(sections)}{compare_section(sides)}{trend}
<section><h2>How far to trust these numbers</h2><div class="note"><ul>{notes}</ul></div></section>
<section><h2>How they were measured</h2><p>Calibration: {escape(_calibration(visits[current]))}.</p>
<p>Model: {escape("; ".join(models))}. tlfseg {escape(__version__)}.</p>
<p class="muted">Thickness: per frame, the median perpendicular thickness of the band across the picture;
echogenicity: the band's mean grey level. Per recording the median over good frames, with the middle half of
frames (25th to 75th percentile; IQR, their difference).</p></section>
<script type="application/json" id="tlfseg-data">{embedded}</script>
</body></html>
"""
