"""Fascia gliding on the phantom with known motion: DIS optical flow against phase correlation on strips.

    python benchmarks/gliding.py [--frames 40] [--note TEXT]

For several glide speeds (px per frame of the layer below against the layer above, the band halfway) and speckle
persistence (share of the speckle moving with its layer; the rest fresh every frame), the exact labels place the
strips, and each method's cumulative shear (fascia/below, above/fascia) is compared with the truth; one row glides
back and forth (`glide_period`, two cycles: the mean per-cycle shear against the truth), one has the original
phantom's saturated band (`band_echo` 0.95: its pairs flagged `saturated`). Cost: median time of one frame pair's
gliding step on one thread. Prepends to results/gliding.md, appends the run to results/raw/gliding.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.grey import to_grey  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402
from edge.measurement.gliding import GlideConfig, GlideTracker  # noqa: E402
from edge.measurement.measure import measure  # noqa: E402

HEAD = (
    "# Fascia gliding on the phantom with known motion\n\n"
    "`python benchmarks/gliding.py`. For each glide speed and speckle persistence, each method's frame pairs measured "
    "(flagged), its shear fascia/below summed over the pairs in px against the truth, the error of both shears, and "
    "the median ms of one pair's gliding step on one thread.\n"
)
SPEEDS = (0.25, 0.5, 1.0, 2.0)
PERSISTENCE = (0.95, 0.8)
METHODS = ("phase", "dis")
PERIOD = 40  #: frames per cycle of the back-and-forth row
SATURATED = 0.95  #: band_echo of the saturated row


def case(glide: float, persistence: float, frames: int, period: float = 0.0, band_echo: float = 0.6) -> dict:
    p = Phantom(glide=glide, persistence=persistence, glide_period=period, band_echo=band_echo)
    r = p.roi
    inputs = []
    for i in range(frames):
        f = p.frame(i)
        grey, labels = to_grey(f.image[r.slices], "bgr"), r.part(f.labels)
        inputs.append((grey, labels, measure(labels, r, grey, None, None)))
    out = {}
    for method in METHODS:
        tracker, times = GlideTracker(GlideConfig(method=method)), []
        for grey, labels, m in inputs:
            t = time.perf_counter()
            tracker.step(grey, labels, m)
            times.append((time.perf_counter() - t) * 1e3)
        t = tracker.totals
        moved = glide * period / np.pi if period else glide * t.pairs  # per stroke, or in all
        true = {"fascia/below": (1 - p.fascia_share) * moved, "above/fascia": p.fascia_share * moved}
        got = {k: np.mean([c.shear_px[k] for c in t.cycles]) if period else t.shear_px[k] for k in true}
        err = {k: 100 * (got[k] - v) / v if t.pairs else float("nan") for k, v in true.items()}
        out[method] = {"pairs": t.pairs, "flagged": t.flagged, "cycles": len(t.cycles), "shear_px": got,
                       "true_px": true, "error_pct": err, "ms_median": float(np.median(times[1:]))}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    rows = ["| glide px/frame | persistence | method | pairs (flagged) | shear F/B px (true) | error F/B | "
            "error A/F | ms per pair |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    grid = [(glide, pers, args.frames, 0.0, 0.6, f"{glide:g}") for pers in PERSISTENCE for glide in SPEEDS]
    grid.append((1.0, 0.8, 2 * PERIOD + 12, PERIOD, 0.6, f"1 peak, back and forth ({PERIOD}), per cycle"))
    grid.append((0.25, 0.8, args.frames, 0.0, SATURATED, f"0.25, band_echo {SATURATED} (saturated)"))
    cases = []
    for glide, pers, frames, period, echo, label in grid:
        res = case(glide, pers, frames, period, echo)
        cases.append({"glide": glide, "persistence": pers, "period": period, "band_echo": echo, **res})
        for method, r in res.items():
            e = r["error_pct"]
            shear, true = r["shear_px"]["fascia/below"], r["true_px"]["fascia/below"]
            rows.append(
                f"| {label} | {pers:g} | {method} | {r['pairs']} ({r['flagged']}) | {shear:.2f} ({true:.2f}) | "
                f"{e['fascia/below']:+.1f} % | {e['above/fascia']:+.1f} % | {r['ms_median']:.2f} |"
            )
    body = "\n".join(rows)
    print(body)
    result = {"machine": machine_info(), "note": args.note, "frames": args.frames, "cases": cases}
    keep_run(result, "gliding", HEAD, body, intro="One thread; exact labels place the strips; "
             "480x640 screen, 400x420 B-mode area, band 12 px.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
