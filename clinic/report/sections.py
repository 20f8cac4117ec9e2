"""The report's sections, each an HTML `<section>` and the numbers it shows (for the report's embedded JSON)."""

from __future__ import annotations

from html import escape

from clinic.frame_log import FrameLog, Stats
from clinic.recording import Recording
from clinic.report.fmt import num, signed, value
from clinic.report.pictures import data_uri
from clinic.report.trend import trend_svg
from clinic.report.words import ECHOGENICITY
from clinic.stills import key_stills
from edge.measurement.flags import words

GREY = "grey level, 0 to 255"  #: echogenicity's unit, in words


def pooled(recordings: list[Recording]) -> FrameLog:
    """The frames of the recordings of one side of one visit, together."""
    return FrameLog.pooled([r.log for r in recordings])


def spread_verdict(difference: float, *spreads: float) -> tuple[bool, str]:
    """Whether a difference is larger than the larger of the spreads (IQRs) it is between, and that in words."""
    beyond = abs(difference) > max(spreads)
    return beyond, "larger than the spread between frames" if beyond else "within the spread between frames"


def _iqr(s: Stats, unit: str) -> str:
    """`1.20-1.40 mm (IQR 0.20 mm)`, each part unbreakable."""
    if s.median is None:
        return "-"
    middle = f"{value(s.p25, unit, bare=True)}&ndash;{value(s.p75, unit)}"
    return f'<span class="n">{middle}</span> <span class="n">(IQR {value(s.iqr, unit)})</span>'


def _flags(log: FrameLog) -> str:
    counts = log.flag_counts
    head = f"{log.flagged} of {len(log)} frames flagged and left out"
    if not counts:
        return f"<p>{head}.</p>"
    several = (
        f" (a frame can have more than one reason, so these add up to {sum(counts.values())})"
        if sum(counts.values()) > log.flagged
        else ""
    )
    items = "".join(
        f"<li>{n} frame(s): {escape(words(f))} (<code>{escape(f)}</code>)</li>" for f, n in sorted(counts.items())
    )
    return f"<p>{head}{several}:</p><ul>{items}</ul>"


def side_section(side: str | None, recs: list[Recording], key_frames: int) -> tuple[str, dict]:
    log = pooled(recs)
    t, e = log.thickness(), log.echogenicity()
    pictures = []
    for r in recs:
        for i, still in key_stills(r, r.log.key_frames(key_frames)).items():
            f, unit = r.log.record(i), r.log.unit
            alt = f"frame {f.get('seq')} at {f.get('t_s')} s, thickness {f.get('thickness_' + unit)} {unit}"
            pictures.append(f'<img src="{data_uri(still)}" alt="{escape(alt)}" title="{escape(alt)}">')
    title = (side or "side not given").capitalize()
    html = f"""<section><h2>{escape(title)}</h2>
<p class="muted">recordings: {escape(", ".join(r.folder.name for r in recs))}; {len(log)} frames</p>
<div class="frames">{"".join(pictures) or "<p>No frame with a good measurement to show.</p>"}</div>
<table><tr><th></th><th>median</th><th>middle half of the frames</th><th>frames used</th></tr>
<tr><td>fascia thickness</td><td>{num(t.median, t.unit)}</td><td>{_iqr(t, t.unit)}</td><td>{t.used}</td></tr>
<tr><td>echogenicity ({GREY})</td><td>{num(e.median)}</td><td>{_iqr(e, "")}</td><td>{e.used}</td></tr></table>
{_flags(log)}</section>"""
    data = {
        "side": side,
        "frames": len(log),
        "flagged": log.flagged,
        "flags": dict(log.flag_counts),
        "thickness": vars(t),
        "echogenicity": vars(e),
    }
    return html, data


def compare_section(sides: dict) -> str:
    """Left and right side by side, with the difference and whether the spread explains it."""
    if not {"left", "right"} <= sides.keys():
        return ""
    lt, rt = sides["left"]["thickness"], sides["right"]["thickness"]
    le, re_ = sides["left"]["echogenicity"], sides["right"]["echogenicity"]
    if lt["median"] is None or rt["median"] is None:
        return "<section><h2>Left and right</h2><p>One side has no good measurement: no comparison.</p></section>"
    unit = lt["unit"]
    _, verdict = spread_verdict(rt["median"] - lt["median"], lt["p75"] - lt["p25"], rt["p75"] - rt["p25"])
    both = le["median"] is not None and re_["median"] is not None
    echo_difference = signed(re_["median"] - le["median"]) if both else "-"
    return f"""<section><h2>Left and right</h2>
<table><tr><th></th><th>left</th><th>right</th><th>right - left</th></tr>
<tr><td>fascia thickness</td><td>{num(lt["median"], unit)}</td><td>{num(rt["median"], unit)}</td>
<td>{signed(rt["median"] - lt["median"], unit)}</td></tr>
<tr><td>echogenicity ({GREY})</td><td>{num(le["median"])}</td><td>{num(re_["median"])}</td>
<td>{echo_difference}</td></tr></table>
<p>The thickness difference is {verdict}. {ECHOGENICITY}</p></section>"""


def trend_section(visits: dict[str, list[Recording]]) -> tuple[str, list[dict]]:
    """Median and IQR of the thickness a visit and side (plot and table), the change since the visit before and
    whether it is larger than the spread."""
    labels = sorted(visits)
    units = {r.log.unit for recs in visits.values() for r in recs}
    unit = units.pop() if len(units) == 1 else "mixed units"
    sides = sorted({r.side for recs in visits.values() for r in recs}, key=lambda s: (s is None, s or ""))
    series, rows, tables = {}, [], []
    for side in sides:
        points, lines, before = [], [], None
        for label in labels:
            recs = [r for r in visits[label] if r.side == side]
            t = pooled(recs).thickness() if recs else None
            measured = t is not None and t.median is not None
            points.append((t.median, t.p25, t.p75) if measured else None)
            row = {"visit": label, "side": side, "median": t.median if measured else None}
            row.update(p25=t.p25 if measured else None, p75=t.p75 if measured else None, change=None, beyond=None)
            change = "-"
            if measured and before is not None:
                row["change"] = round(t.median - before.median, 4)
                row["beyond"], verdict = spread_verdict(row["change"], t.iqr, before.iqr)
                change = f"{signed(row['change'], unit)}, {verdict.removesuffix(' between frames')}"
            if measured:
                before = t
            rows.append(row)
            lines.append(
                f'<tr><td class="n">{escape(label)}</td><td>{num(row["median"], unit)}</td>'
                f"<td>{_iqr(t, unit) if measured else '-'}</td><td>{change}</td></tr>"
            )
        series[side] = points
        tables.append(
            f"<h3>{escape((side or 'side not given').capitalize())}</h3><table><tr><th>visit</th><th>median</th>"
            f"<th>middle half of the frames</th><th>change since the visit before</th></tr>{''.join(lines)}</table>"
        )
    html = f"""<section><h2>Change over visits</h2>{trend_svg(labels, series, unit)}</section>
<section>{"".join(tables)}<p class="muted">A change within the spread (IQR) between the frames of one recording is
not a change. The medians of one visit and side pool its recordings' frames.</p></section>"""
    return html, rows
