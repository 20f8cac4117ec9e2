"""Video features on real tissue texture: gliding, band tracking and fusion on clips made from real captures with known
motion (`benchmarks/sequences.py`), through the live runtime as `tlfseg run --every-frame` runs a file.

    python benchmarks/real_video.py                       # the bundled model, its test split's captures
    python benchmarks/real_video.py --split val           # the captures thresholds are calibrated on (not scored)
    python benchmarks/real_video.py --only slides --split val  # one section

Each clip is written as an MJPG AVI (OpenCV's encoder, quality 80, as from a USB grabber) and played back through
`edge.live.runtime.build` (every frame, the bundled int8 model, 1 thread). Sections:

- gliding: cumulative shear over the kept pairs against the truth, per condition (speed, probe motion, noise,
  decorrelation), with the strips placed by the model (the runtime) and by the true labels (the estimator alone);
  the phantom's rows at the same speeds beside them.
- smooth: clips without a jump in truth (slow and brisk probe), with and without `--fuse`: `jump` per 1,000 frames,
  the other flags, the thickness's steadiness (frame-to-frame change) and error against the truth, the good frames off
  the true band and those measured in part (`partial`).
- slides: the probe sliding onto another capture (a band at least 3 band thicknesses away) and back, a true jump:
  `jump` flagged before the track follows, the frames until it follows, good frames on neither band.

Prepends a section to results/real_video.md (newest first), appends the run to results/raw/real_video.jsonl and
writes a picture per section to results/img/real_video_<time>_<section>.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gliding import case as phantom_case  # noqa: E402
from benchmarks.real_video_figures import figures  # noqa: E402
from benchmarks.real_video_scores import SHEARS, glide_summary, jump_rate, shear_error, smooth_run, switch_events  # noqa: E402
from benchmarks.results_log import PICTURES, keep_run, picture_path  # noqa: E402
from benchmarks.sequences import Capture, Clip, Motion, Switch, Truth, write_clip  # noqa: E402
from edge.core.engine import DEFAULT_MODEL, Engine  # noqa: E402
from edge.core.grey import to_grey  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.core.roi import Box  # noqa: E402
from edge.live.pipeline import FrameResult  # noqa: E402
from edge.live.runtime import LiveSettings, build  # noqa: E402
from edge.live.sinks import Sink  # noqa: E402
from edge.measurement.gliding import GlideStep, GlideTracker  # noqa: E402
from edge.measurement.measure import MeasureConfig  # noqa: E402

HEAD = (
    "# Video features on real tissue texture\n\n"
    "`python benchmarks/real_video.py [--split test|val] [--only gliding,smooth,slides]`. Clips made from the shipped "
    "model's captures with known motion (`benchmarks/sequences.py`), written as MJPG and played through `tlfseg "
    "run`'s runtime, every frame, the bundled int8 model on 1 thread; the test split's captures are scored, the val "
    "split's calibrate (not scored). Gliding: per condition (glide speed, probe motion, noise, decorrelation), the "
    "pairs kept of 40 a clip and why the others were left out, the cumulative shear's error against the truth, "
    "fascia/below (F/B) and above/fascia (A/F): the median and worst clip (signed %), the median absolute error (px), "
    "the share of clips within 10 %; strips placed by the model (the runtime) and by the true labels (the estimator "
    "alone); the phantom's rows at the same speeds. Smooth: clips without a jump in truth (a slow and a brisk probe), "
    "with and without `--fuse 0.5`, and without the band's track weighed for which piece is the band (the runtime "
    "before it): `jump` and every flag per 1,000 frames, the thickness's change frame to frame, its error against the "
    "truth and its spread within a clip, the good frames whose band lies off the true one (its centre further off "
    "than the band is thick) and the frames measured in part. Slides: the probe sliding onto another capture whose "
    "band lies at least 3 band thicknesses away, and back (a true jump): `jump` flagged before the track follows, the "
    "frames from the slide's start until it follows, good frames on neither band. The pictures: each clip's gliding "
    "error per condition; frames refused (of them `jump`), the least steady clip's thickness and the steadiness; "
    "the first slide's band depth.\n"
)
GLIDE_FRAMES = 41  #: 40 pairs a clip, as the phantom's table
SMOOTH_FRAMES = 50
MIN_TOP_PX = 20  #: a gliding clip needs the strip above the band (2 + 10 rows) and room for the probe's lift
FUSE = 0.5
#: the smooth clips' runtime settings: as shipped, with fusion, and without the band's track as evidence for which
#: piece is the band (`MeasureConfig.use_track`, the runtime before it)
SETTINGS = {"off": "off", "fuse": f"--fuse {FUSE:g}", "no_track": "off, the track not weighed"}
DWELL = 30  #: frames on each capture around a slide
PROBE = {"pan_px": 20.0, "lift_px": 4.0, "tilt_deg": 1.0, "zoom": 0.01}  #: slow: a hand holding the probe
BRISK = {"pan_px": 40.0, "lift_px": 10.0, "tilt_deg": 3.0, "zoom": 0.03}  #: a probe moved on purpose
#: gliding conditions: (label, Motion fields); the first four are the phantom's speeds, probe still
GLIDING = (
    ("0.25 px/frame, probe still", {"glide": 0.25}),
    ("0.5 px/frame, probe still", {"glide": 0.5}),
    ("1 px/frame, probe still", {"glide": 1.0}),
    ("2 px/frame, probe still", {"glide": 2.0}),
    ("0.5 px/frame, probe moving", {"glide": 0.5, **PROBE}),
    ("1 px/frame, probe moving", {"glide": 1.0, **PROBE}),
    ("1, probe, noise 8", {"glide": 1.0, "noise": 8.0, **PROBE}),
    ("1, probe, noise 16", {"glide": 1.0, "noise": 16.0, **PROBE}),
    ("1, probe, decorrelation 0.05", {"glide": 1.0, "decorrelation": 0.05, **PROBE}),
    ("1, probe, decorrelation 0.2", {"glide": 1.0, "decorrelation": 0.2, **PROBE}),
    ("0.5, probe, noise 8, decorrelation 0.05", {"glide": 0.5, "noise": 8.0, "decorrelation": 0.05, **PROBE}),
)
#: smooth motion for the band's track (no jump in truth): the layers glide a little, speckle and noise as scanned
SMOOTH = {
    "slow": {"glide": 0.5, "noise": 4.0, "decorrelation": 0.05, **PROBE},
    "brisk": {"glide": 1.0, "noise": 4.0, "decorrelation": 0.05, **BRISK},
}


class Collect(Sink):
    """Keeps every `FrameResult` of a run."""

    def __init__(self) -> None:
        self.results: list[FrameResult] = []

    def write(self, frame, result, picture, session) -> None:
        self.results.append(result)


def captures(split: str, model: Path = DEFAULT_MODEL) -> list[Capture]:
    """The split's captures (names in the model's model.json), cut into layers."""
    from quantization.data import load_dl_track_apo, read_image, read_labels

    names = set(json.loads(model.with_name("model.json").read_text())["split"]["names"][split])
    return [Capture.of(s.name, read_image(s.image), read_labels(s)) for s in load_dl_track_apo()[0] if s.name in names]


def render(clip: Clip | Switch, path: Path) -> list[Truth]:
    """Writes the clip as MJPG; returns each frame's truth."""
    truths: list[Truth] = []

    def frames():
        for image, truth in clip.frames():
            truths.append(truth)
            yield image

    write_clip(path, frames())
    return truths


def play(path: Path, engine: Engine, **settings) -> list[FrameResult]:
    """Every frame of the file through the live runtime."""
    keep = Collect()
    live = build(LiveSettings(source=str(path), every_frame=True, status_every=0.0, **settings), engine=engine,
                 sinks=[keep])  # fmt: skip
    live.run()
    return keep.results


def decoded(path: Path) -> list[np.ndarray]:
    cap, out = cv2.VideoCapture(str(path)), []
    while (ok_image := cap.read())[0]:
        out.append(ok_image[1])
    return out


def label_steps(path: Path, truths: list[Truth], roi: Box, tracker: GlideTracker | None = None) -> list[GlideStep]:
    """Gliding with the strips on the true labels: the estimator alone (`tracker`'s), on the decoded frames."""
    tracker = tracker or GlideTracker()
    return [
        tracker.step(roi.part(to_grey(image)), roi.part(t.labels), replace(t.band, flags=()))
        for image, t in zip(decoded(path), truths, strict=True)
    ]


def gliding(clips: list[Capture], engine: Engine, tmp: Path, progress=print) -> dict:
    rows = []
    for label, fields in GLIDING:
        per = []
        for c in clips:
            path = tmp / "glide.avi"
            truths = render(Clip(c, Motion(frames=GLIDE_FRAMES, **fields)), path)
            model = shear_error([r.gliding for r in play(path, engine, gliding=True)], truths)
            labels = shear_error(label_steps(path, truths, c.roi), truths)
            per.append({"capture": c.name, "model": model, "labels": labels})
        rows.append({"label": label, "motion": fields, "clips": per})
        progress(f"gliding {label}: " + _glide_line(per))
    speeds = [f["glide"] for _, f in GLIDING[:4]]
    phantom = {str(v): phantom_case(v, 0.95, GLIDE_FRAMES)["phase"] for v in speeds}
    return {"rows": rows, "phantom": phantom}


def _glide_line(per: list[dict]) -> str:
    s = glide_summary(per, "model")
    return ", ".join(f"{k} median |error| {s[k]['median_abs_pct']:.1f} %" for k in SHEARS)


def smooth(clips: list[Capture], engine: Engine, tmp: Path, progress=print) -> dict:
    """Clips without a jump in truth, with and without fusion: false `jump`s, the thickness's steadiness."""
    out = {}
    for level, fields in SMOOTH.items():
        runs = {"off": [], "fuse": [], "no_track": []}
        for c in clips:
            path = tmp / "smooth.avi"
            truths = render(Clip(c, Motion(frames=SMOOTH_FRAMES, **fields)), path)
            runs["off"].append({"capture": c.name, **smooth_run(play(path, engine), truths)})
            runs["fuse"].append({"capture": c.name, **smooth_run(play(path, engine, fuse=FUSE), truths)})
            no_track = play(path, engine, measure=MeasureConfig(use_track=False))
            runs["no_track"].append({"capture": c.name, **smooth_run(no_track, truths)})
        out[level] = runs
        progress(f"smooth {level}: " + ", ".join(f"{k} {jump_rate(v):.1f} jump/1000" for k, v in runs.items()))
    return out


def slides(clips: list[Capture], engine: Engine, tmp: Path, progress=print) -> list[dict]:
    """The probe sliding onto another capture and back (true jumps), with and without fusion."""
    switches = []
    for a, b in switch_pairs(clips):
        path = tmp / "switch.avi"
        sw = Switch(Clip(a, Motion(frames=SMOOTH_FRAMES, **SMOOTH["slow"])),
                    Clip(b, Motion(frames=SMOOTH_FRAMES, **SMOOTH["slow"], seed=1)), dwell=DWELL)  # fmt: skip
        truths = render(sw, path)
        for setting, fuse in (("off", None), ("fuse", FUSE)):
            results = play(path, engine, fuse=fuse)
            switches.append({"a": a.name, "b": b.name, "setting": setting, **switch_events(sw, results, truths)})
    progress(f"slides: {len(switches)} runs")
    return switches


def spread(clips: list[Capture], count: int) -> list[Capture]:
    """`count` of the captures, spread over their (name) order: every scanner layout and subject."""
    return clips[:: max(1, len(clips) // count)][:count]


def switch_pairs(clips: list[Capture], min_thicknesses: float = 3.0) -> list[tuple[Capture, Capture]]:
    """Captures of one screen layout paired shallowest with deepest band, where the bands lie at least
    `min_thicknesses` band thicknesses apart (a depth the track cannot take for the same band)."""
    pairs = []
    layouts: dict[tuple, list[Capture]] = {}
    for c in clips:
        layouts.setdefault(c.screen.shape, []).append(c)
    for group in layouts.values():
        group = sorted(group, key=lambda c: c.depth)
        for a, b in zip(group[: len(group) // 2], reversed(group[len(group) // 2 :]), strict=False):
            if b.depth - a.depth >= min_thicknesses * max(a.thickness, b.thickness):
                pairs.append((a, b))
    return pairs


def _rates(runs: list[dict], frames: int) -> str:
    counts = sum((Counter(r["flags"]) for r in runs), Counter())
    return ", ".join(f"{k} {1000 * v / max(frames, 1):.1f}" for k, v in counts.most_common()) or "none"


def _pct(v: float) -> str:
    return "-" if v != v else f"{v:+.1f} %"


def tables(result: dict) -> dict[str, str]:
    out = {}
    if "gliding" in result:
        g = result["gliding"]
        lines = [
            "| condition | strips from | pairs kept (left out) | F/B error: median (worst) | A/F error: median (worst) "
            "| median abs error F/B, A/F | clips within 10 % (F/B, A/F) |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in g["rows"]:
            for source in ("model", "labels"):
                s = glide_summary(row["clips"], source)
                fb, af = s["fascia/below"], s["above/fascia"]
                left = ", ".join(f"{k} {v}" for k, v in sorted(s["flags"].items()) if k != "no_previous")
                lines.append(
                    f"| {row['label']} | {source} | {s['kept']}/{s['pairs']}{f' ({left})' if left else ''} | "
                    f"{_pct(fb['median_pct'])} ({_pct(fb['worst_pct'])}) | {_pct(af['median_pct'])} "
                    f"({_pct(af['worst_pct'])}) | {fb['median_abs_px']:.2f}, {af['median_abs_px']:.2f} px | "
                    f"{fb['within_10']:.0%}, {af['within_10']:.0%} |"
                )
        for speed, r in g["phantom"].items():
            e = r["error_pct"]
            lines.append(f"| {speed} px/frame, phantom (persistence 0.95) | phantom labels | {r['pairs']}/"
                         f"{r['pairs'] + r['flagged'] - 1} | {_pct(e['fascia/below'])} | {_pct(e['above/fascia'])} "
                         f"| - | - |")  # fmt: skip
        out["gliding"] = "\n".join(lines)
    if "smooth" in result:
        lines = [
            "| motion | setting | frames | `jump` per 1,000 | any flag per 1,000 (each) | thickness change frame to "
            "frame p50 / p90 (px) | thickness error median / p90 abs (px) | its spread within a clip: median / p90 "
            "(SD, px) | good frames off the true band | measured in part (`partial`): frames, off the true band |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for level, runs in result["smooth"]["levels"].items():
            for setting, rs in runs.items():
                frames = sum(r["frames"] for r in rs)
                flagged = sum(r["frames"] - r["good"] for r in rs)
                steps = np.concatenate([r["steps_px"] for r in rs] + [[]])
                errors = np.concatenate([r["errors_px"] for r in rs] + [[]])
                spread = [np.std(r["errors_px"]) for r in rs if len(r["errors_px"]) > 5]
                lines.append(
                    f"| {level} | {SETTINGS[setting]} | {frames} | "
                    f"{jump_rate(rs):.1f} | {1000 * flagged / max(frames, 1):.1f} ({_rates(rs, frames)}) | "
                    f"{np.percentile(steps, 50):.2f} / {np.percentile(steps, 90):.2f} | "
                    f"{np.median(errors):+.2f} / {np.percentile(np.abs(errors), 90):.2f} | "
                    f"{np.median(spread):.2f} / {np.percentile(spread, 90):.2f} | "
                    f"{sum(r['off_band_good'] for r in rs)} | {sum(r['partial'] for r in rs)}, "
                    f"{sum(r['partial_off_band'] for r in rs)} |"
                )
        out["smooth"] = "\n".join(lines)
    if "slides" in result:
        lines = [
            "| slides | fusion | `jump` flagged before the track follows | frames from the slide's start until it "
            f"follows: median (max) | not followed within {DWELL} frames after the slide | good frames on neither "
            "band |",
            "|---|---|---|---|---|---|",
        ]
        for setting in ("off", "fuse"):
            events = [e for s in result["slides"] if s["setting"] == setting for e in s["events"]]
            follows = [e["follow"] for e in events if e["follow"] is not None]
            lines.append(
                f"| {len(events)} | {'off' if setting == 'off' else f'--fuse {FUSE:g}'} | "
                f"{sum(e['caught'] for e in events)}/{len(events)} | "
                f"{np.median(follows) if follows else '-'} ({max(follows) if follows else '-'}) | "
                f"{sum(e['follow'] is None for e in events)} | {sum(e['stray_good'] for e in events)} |"
            )
        out["slides"] = "\n".join(lines)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", default="test", choices=("test", "val"), help="whose captures (default: test)")
    p.add_argument("--only", default="gliding,smooth,slides", help="sections (default: gliding,smooth,slides)")
    p.add_argument("--captures", type=int, default=8, help="captures per gliding condition (default 8)")
    p.add_argument("--smooth", type=int, default=24, help="captures for the smooth clips (default 24)")
    p.add_argument("--slides", type=int, default=59, help="captures paired for the slides (default 59: all)")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    sections = set(args.only.split(","))
    engine = Engine(DEFAULT_MODEL, threads=1)
    all_captures = captures(args.split)
    result = {"machine": machine_info(), "note": args.note, "model": engine.describe(), "split": args.split}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if "gliding" in sections:
            chosen = spread([c for c in all_captures if c.top.min() >= MIN_TOP_PX], args.captures)
            result["gliding"] = gliding(chosen, engine, Path(tmp))
            result["gliding"]["captures"] = [c.name for c in chosen]
        if "smooth" in sections:
            chosen = spread(all_captures, args.smooth)
            result["smooth"] = {"levels": smooth(chosen, engine, Path(tmp)), "captures": [c.name for c in chosen]}
        if "slides" in sections:
            result["slides"] = slides(spread(all_captures, args.slides), engine, Path(tmp))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    pictures = figures(result, picture_path("real_video"))
    body = "\n\n".join(f"{text}\n\n![{name}]({PICTURES}/{pictures[name]})" if name in pictures else text
                       for name, text in tables(result).items())  # fmt: skip
    intro = (
        f"Model `{result['model']}`, {args.split} split's captures (the model never trained on them"
        f"{'; calibration, not scored' if args.split == 'val' else ''}); clips as MJPG through `tlfseg run`'s "
        f"runtime, every frame, 1 thread; {result['seconds']:.0f} s."
    )
    keep_run(result, "real_video", HEAD, body, intro=intro)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
