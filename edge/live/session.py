"""`Session`: what a live run counted (frames seen, processed, dropped by reason), timed and measured."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.core.latency import LatencyStats
from edge.core.reservoir import Reservoir, Series
from edge.measurement.gliding import GlideStep, totals_dict

#: most events a session keeps (a source that flaps for a day would otherwise fill the memory and the summary)
MAX_EVENTS = 1_000
#: most points the thickness series keeps for the plot (about 2 MB); a longer session is plotted at lower resolution
SERIES_POINTS = 20_000
#: of failures that repeat (frames that cannot be processed, read or recorded), the first 3 are events one by one, then
#: one in this many (every one is counted)
REPORT_EVERY = 100


def worth_an_event(n: int) -> bool:
    """Whether the `n`-th failure of a kind is reported as an event (a source failing every frame must not flood)."""
    return n <= 3 or n % REPORT_EVERY == 0


@dataclass
class Session:
    source: str
    model: str
    started_wall: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    seen: int = 0  #: frames the source delivered
    processed: int = 0
    dropped: Counter = field(default_factory=Counter)  #: reason -> frames (source and loop together)
    latency: LatencyStats = field(default_factory=LatencyStats)
    series: Series = field(default_factory=lambda: Series(SERIES_POINTS))  #: (t s, thickness, good) for the plot
    thickness: Reservoir = field(default_factory=Reservoir)  #: the good frames' thickness, for the summary
    unit: str = "px"  #: thickness unit in `series`: "mm" when calibrated
    flags: Counter = field(default_factory=Counter)
    events: list[dict] = field(default_factory=list)  #: the first `MAX_EVENTS` source and loop events
    events_not_kept: int = 0  #: events after those (counted, not stored: a flapping source must not fill memory)
    roi_changes: int = 0
    recent_fps: float = 0.0  #: processed frames per second over the last seconds (for live status)
    interrupted: bool = False
    failed: str | None = None  #: why the run ended on its own before its source did (the set-up is wrong)
    files: list[str] = field(default_factory=list)
    gliding: GlideStep | None = None  #: the last frame pair's gliding (its totals: the session's), where gliding is on
    glide_flags: Counter = field(default_factory=Counter)  #: why frame pairs were left out of the gliding totals
    #: per pair ("fascia/below", "above/fascia"): (t s, cumulative shear px or mm, good) for the plot
    glide_series: dict[str, Series] = field(default_factory=dict)

    def add_glide(self, step: GlideStep, t: float) -> None:
        self.gliding = step
        self.glide_flags.update(step.flags)
        scale = step.mm_per_px or 1.0
        for k, v in step.totals.shear_px.items():
            self.glide_series.setdefault(k, Series(SERIES_POINTS)).append((t, v * scale, step.good))

    def add_event(self, event: dict) -> None:
        if len(self.events) < MAX_EVENTS:
            self.events.append(event)
        else:
            self.events_not_kept += 1

    @property
    def duration_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def thickness_summary(self) -> dict:
        good = self.thickness.values
        out = {"unit": self.unit, "good_frames": self.thickness.n, "flagged_frames": self.processed - self.thickness.n}
        out["flags"] = dict(self.flags)
        if good.size:
            p25, p50, p75 = np.percentile(good, [25, 50, 75])
            out.update(median=round(float(p50), 4), p25=round(float(p25), 4), p75=round(float(p75), 4))
        return out

    def gliding_summary(self) -> dict:
        """The gliding totals over the good frame pairs, and the pairs left out by reason."""
        return {**totals_dict(self.gliding.totals, self.gliding.mm_per_px), "flags": dict(self.glide_flags)}

    def summary(self) -> dict:
        d = self.duration_s
        return {
            "source": self.source,
            "model": self.model,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started_wall)),
            "duration_s": round(d, 3),
            "interrupted": self.interrupted,
            "failed": self.failed,
            "frames": {
                "seen": self.seen,
                "processed": self.processed,
                "dropped": dict(self.dropped),
                "dropped_total": self.dropped_total,
                "in_flight": self.seen - self.processed - self.dropped_total,
            },
            "throughput_fps": round(self.processed / d, 2) if d > 0 else None,
            "latency_ms": {k: {s: round(v, 3) for s, v in st.items()} for k, st in self.latency.summary().items()},
            "thickness": self.thickness_summary(),
            "roi_changes": self.roi_changes,
            **({"gliding": self.gliding_summary()} if self.gliding else {}),
            "events": self.events,
            "events_not_kept": self.events_not_kept,
            "files": self.files,
        }

    def report(self) -> str:
        """The end-of-session text: counts, drops by reason, latency per stage, thickness, events."""
        d = self.duration_s
        drops = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())) or "none"
        lines = [
            f"session: {self.processed} frames processed of {self.seen} seen in {d:.1f} s "
            f"({self.processed / d if d > 0 else 0:.1f} fps); dropped {self.dropped_total} ({drops})"
        ]
        if len(self.latency):
            lines.append(self.latency.table())
        t = self.thickness_summary()
        if "median" in t:
            lines.append(
                f"thickness: median {t['median']:.3g} {t['unit']} (IQR {t['p25']:.3g}-{t['p75']:.3g}) "
                f"over {t['good_frames']} good frames; {t['flagged_frames']} flagged {t['flags'] or ''}".rstrip()
            )
        else:
            lines.append(f"thickness: no good measurement; {t['flagged_frames']} frames flagged {t['flags']}")
        if self.gliding:
            g = self.gliding_summary()
            mm = g["shear_mm"]
            shear = ", ".join(
                f"{k} {v:+.2f} px" + (f" ({mm[k]:+.3f} mm)" if mm else "") + f" strain {g['strain_pct'][k]:+.1f} %"
                for k, v in g["shear_px"].items()
            )
            lines.append(f"gliding: cumulative {shear} over {g['pairs']} good frame pairs; {g['flagged']} left out "
                         f"{g['flags'] or ''}".rstrip())  # fmt: skip
            for c in g["cycles"]:
                unit, shear = ("mm", c["shear_mm"]) if c["shear_mm"] else ("px", c["shear_px"])
                per = ", ".join(f"{k} {v:.2f} {unit} strain {c['strain_pct'][k]:.1f} %" for k, v in shear.items())
                lines.append(f"  cycle {c['index']} (frames {c['frames'][0]}-{c['frames'][2]}): {per}")
        kinds = Counter(e["kind"] for e in self.events if e["kind"] != "opened")
        if kinds:
            lines.append("source events: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        if self.roi_changes:
            lines.append(f"ROI re-detected after {self.roi_changes} screen layout change(s)")
        return "\n".join(lines)
