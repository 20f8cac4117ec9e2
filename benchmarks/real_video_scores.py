"""Scores of benchmarks/real_video.py: a clip's results through the runtime against the truth it was made with."""

from __future__ import annotations

from collections import Counter

import numpy as np

from benchmarks.sequences import Switch, Truth
from edge.core.labels import ABOVE
from edge.live.pipeline import FrameResult
from edge.measurement.gliding import PAIRS, GlideStep
from edge.measurement.identity import band_identity

LAYER = {"above": 0, "fascia": 1, "below": 2}
SHEARS = tuple(f"{a}/{b}" for a, b in PAIRS)


def shear_error(steps: list[GlideStep | None], truths: list[Truth]) -> dict:
    """The kept pairs' cumulative shear against the truth over the same pairs (px and %), and why pairs were left
    out."""
    got, true = dict.fromkeys(SHEARS, 0.0), dict.fromkeys(SHEARS, 0.0)
    kept, flags = 0, Counter()
    for i, step in enumerate(steps):
        if step is None or not step.good:
            flags.update(step.flags if step else ("not measured",))
            continue
        kept += 1
        moved = truths[i].shifts - truths[i - 1].shifts
        for a, b in PAIRS:
            k = f"{a}/{b}"
            true[k] += float(moved[LAYER[b]] - moved[LAYER[a]])
            got[k] += step.relative_px[k]
    error_px = {k: got[k] - true[k] for k in got}
    error_pct = {k: 100 * error_px[k] / true[k] if abs(true[k]) > 1e-9 else None for k in got}
    return {"kept": kept, "pairs": len(steps) - 1, "flags": dict(flags), "true_px": true, "got_px": got,
            "error_px": error_px, "error_pct": error_pct}  # fmt: skip


def glide_summary(per: list[dict], source: str) -> dict:
    """Over a condition's clips: per pair the median and worst signed error (%), median |error| (% and px), the
    share of clips within 10 %, and the pairs kept."""
    out = {}
    for k in SHEARS:
        pct = np.array([p[source]["error_pct"][k] for p in per if p[source]["error_pct"][k] is not None], float)
        px = np.array([p[source]["error_px"][k] for p in per], float)
        worst = float(pct[np.argmax(np.abs(pct))]) if pct.size else float("nan")
        out[k] = {
            "median_pct": float(np.median(pct)) if pct.size else float("nan"),
            "worst_pct": worst,
            "median_abs_pct": float(np.median(np.abs(pct))) if pct.size else float("nan"),
            "median_abs_px": float(np.median(np.abs(px))),
            "within_10": float(np.mean(np.abs(pct) <= 10)),
        }
    out["kept"] = sum(p[source]["kept"] for p in per)
    out["pairs"] = sum(p[source]["pairs"] for p in per)
    out["flags"] = dict(sum((Counter(p[source]["flags"]) for p in per), Counter()))
    return out


def smooth_run(results: list[FrameResult], truths: list[Truth]) -> dict:
    """Flags and thickness over a clip without a jump in truth, and every frame's band (`frames`)."""
    flags = Counter(f for r in results for f in r.flags)
    good = [(i, r.measurement.thickness_px) for i, r in enumerate(results) if r.measurement.good]
    steps = [abs(b - a) for (i, a), (j, b) in zip(good, good[1:], strict=False) if j == i + 1]
    errors = [t - truths[i].band.thickness_px for i, t in good]
    off = {i for i, _ in good if off_band(results[i], truths[i])}
    partial = {i for i, _ in good if "partial" in results[i].flags}
    return {"frames": len(results), "good": len(good), "flags": dict(flags), "steps_px": steps,
            "off_band_good": len(off), "partial": len(partial), "partial_off_band": len(partial & off),
            "errors_px": errors, "thickness_px": [r.measurement.thickness_px if r.measurement.good else None
                                                  for r in results],
            "true_px": [t.band.thickness_px for t in truths], "bands": bands(results)}  # fmt: skip


def off_band(result: FrameResult, truth: Truth) -> bool:
    """A good frame's band lies off the true one (`band_identity`'s depth test, column by column) over the columns it
    measured: a piece left out of a frame measured in part is not judged."""
    measured = np.where(np.isfinite(result.measurement.columns_px), result.roi_labels, ABOVE)
    identity = band_identity(measured, result.roi.part(truth.labels), 1.0)  # Dice 1: the depth alone decides
    return identity is None or identity.wrong


def bands(results: list[FrameResult]) -> list[list]:
    """Per frame: the band's depth and thickness (px) and its flags, to replay the band's track offline."""
    return [[r.measurement.depth_px, r.measurement.thickness_px, list(r.flags)] for r in results]


def jump_rate(runs: list[dict]) -> float:
    frames = sum(r["frames"] for r in runs)
    return 1000 * sum(r["flags"].get("jump", 0) for r in runs) / max(frames, 1)


def switch_events(sw: Switch, results: list[FrameResult], truths: list[Truth]) -> dict:
    """Per slide (onto `b`, then back onto `a`), from the slide's start to the end of the dwell after it: the frame
    the track follows (the first good frame measuring the new capture's band), whether `jump` was flagged before it
    (caught; else the new structure was measured as if it were the old one), and the frames reported good on
    neither capture's band (a blend of the two in view)."""
    events = []
    for start, new in ((sw.dwell, sw.b.capture.name), (2 * sw.dwell + sw.slide, sw.a.capture.name)):
        window = range(start, min(start + sw.slide + sw.dwell, len(results)))
        followed, stray = None, 0
        for i in window:
            m, t = results[i].measurement, truths[i]
            new_old = (t.band, t.other) if t.tissue == new else (t.other, t.band)
            near = [b is not None and m.depth_px is not None and abs(m.depth_px - b.depth_px) <= max(b.thickness_px,
                    6.0) for b in new_old]  # fmt: skip
            if m.good and near[0] and followed is None:
                followed = i
            stray += m.good and not any(near)
        flags = Counter(f for i in window for f in results[i].flags)
        before = range(start, window.stop if followed is None else followed)
        caught = any("jump" in results[i].flags for i in before)
        follow = None if followed is None else followed - start
        events.append({"onto": new, "caught": caught, "follow": follow, "stray_good": stray, "flags": dict(flags)})
    return {"events": events, "bands": bands(results), "depth_px": [r.measurement.depth_px for r in results],
            "good": [r.measurement.good for r in results], "jump": ["jump" in r.flags for r in results],
            "true_depth_px": [t.band.depth_px for t in truths]}  # fmt: skip
