"""What the `unfamiliar` flag catches of screens that are not B-mode ultrasound, and what it costs on real ones.

    python benchmarks/not_bmode.py [--note TEXT]

Screens as a capture card delivers them (`screens`): colour and power Doppler painted over real B-mode images, a
scanner menu, logos (a cartoon head as OpenIGTLink's test images, in colour and grey), text (anti-aliased and
bitmap-like, light on dark and dark on light), blank screens and a grabber's blue "no signal"; and a frozen screen
(one real frame, 30 times in a stream). Each goes through the live pipeline with the bundled model; the flag's reasons
are split into the input statistics against the model's reference (all the flag had before issue 25) and the
B-mode checks (`edge.core.bmode`: colour, flat, one grey, frozen). Then every image of the shared data set, by layout
(the hold-out layouts 512x512 and 660x556 among them): how many are flagged, and how close each check comes to its
limit; and every 8th of them under the stress suite's corruptions.
Results: printed, prepended to benchmarks/results/not_bmode.md, the run appended to results/raw/not_bmode.jsonl.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from benchmarks.stress import CORRUPTIONS  # noqa: E402
from edge.core import bmode  # noqa: E402
from edge.core.grey import to_grey  # noqa: E402
from edge.core.imagefiles import masks_by_stem, read_label_map  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.core.paths import DL_TRACK_APO  # noqa: E402
from edge.core.preprocess import prepare_input  # noqa: E402
from edge.core.roi import Box, detect_bmode_roi  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.measurement.flags import refuses  # noqa: E402

HEAD = (
    "# Screens that are not B-mode: what `unfamiliar` catches\n\n"
    "`python benchmarks/not_bmode.py`. Per kind of screen: how many the input statistics alone flag (the check before "
    "issue 25), how many the B-mode checks add (colour, flat, one grey, frozen: `edge.core.bmode`), how many are still "
    "measured good; then the shared data set by layout: flagged images, and each check's largest value against its "
    "limit.\n"
)
CHECKS = ("colour", "flat", "one_grey", "frozen")  #: the B-mode checks' reasons
#: lines of text for the text screens, of a README's uneven lengths and blank lines (fixed: the same in every run)
_WORDS = (
    "tlfseg segments the thoracolumbar fascia in ultrasound video as it comes out of the scanner and measures it "
    "thickness in mm echogenicity coverage confidence on a small board with no network every frame processed or "
    "counted as dropped with its reason the newest frame wins latency per stage the session summary at the end"
)
_LENGTHS = [9, 12, 4, 0, 11, 6, 0, 13, 2] * 7  #: words a line
TEXT = [" ".join(_WORDS.split()[(7 * i) % 40 : (7 * i) % 40 + n]) for i, n in enumerate(_LENGTHS)]


def text_screen(first: int = 0, ink: int = 170, paper: int = 0, bitmap: bool = False) -> np.ndarray:
    """A 640x400 screen of text, as a terminal or FFmpeg's tty demuxer draws it."""
    image = np.full((400, 640, 3), paper, np.uint8)
    font, scale, line = (
        (cv2.FONT_HERSHEY_PLAIN, 0.9, cv2.LINE_8) if bitmap else (cv2.FONT_HERSHEY_SIMPLEX, 0.4, cv2.LINE_AA)
    )
    for row, text in enumerate(TEXT[first : first + 25]):
        cv2.putText(image, text, (2, 12 + 16 * row), font, scale, (ink,) * 3, 1, line)
    return image


def menu_screen(seed: int = 0) -> np.ndarray:
    """A scanner's settings menu: a title bar, rows of options with their values, coloured buttons."""
    rng = np.random.default_rng(seed)
    image = np.full((600, 800, 3), 38, np.uint8)
    cv2.rectangle(image, (0, 0), (800, 50), (70, 60, 50), -1)
    cv2.putText(image, "PRESET  PROBE  PATIENT  REVIEW  SETUP", (10, 33), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (230,) * 3, 2)
    for row in range(8):
        y = 80 + 60 * row
        cv2.rectangle(image, (40, y), (760, y + 45), (90,) * 3 if row % 2 else (70,) * 3, -1)
        label = f"Option {row + 1}: value {rng.integers(0, 100)}"
        cv2.putText(image, label, (60, y + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (240,) * 3, 1, cv2.LINE_AA)
        cv2.rectangle(image, (600, y + 8), (740, y + 37), tuple(int(c) for c in rng.integers(60, 255, 3)), -1)
    return image


def logo_screen(colour: bool = True, paper: int = 230) -> np.ndarray:
    """A cartoon head with a name under it, as OpenIGTLink's test images."""
    image = np.full((480, 640, 3), paper, np.uint8)
    cv2.circle(image, (320, 240), 150, (60, 180, 240) if colour else (180,) * 3, -1, cv2.LINE_AA)
    cv2.circle(image, (320, 240), 150, (20,) * 3, 4, cv2.LINE_AA)
    for dx in (-55, 55):
        cv2.circle(image, (320 + dx, 200), 22, (255,) * 3, -1, cv2.LINE_AA)
        cv2.circle(image, (320 + dx, 200), 10, (40,) * 3, -1, cv2.LINE_AA)
    cv2.ellipse(image, (320, 290), (70, 35), 0, 0, 180, (30, 30, 160) if colour else (60,) * 3, 8, cv2.LINE_AA)
    cv2.putText(image, "OpenIGTLink", (200, 450), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (80, 40, 20), 3, cv2.LINE_AA)
    return image


def doppler(image: np.ndarray, share: float, seed: int = 0, power: bool = False) -> np.ndarray:
    """Colour flow over a box of `share` of the B-mode area: red towards the probe, blue away (power: orange)."""
    rng = np.random.default_rng(seed)
    out, roi = image.copy(), detect_bmode_roi(image)
    w, h = int(roi.w * share**0.5), int(roi.h * share**0.5)
    x0, y0 = roi.x + (roi.w - w) // 2, roi.y + (roi.h - h) // 3
    field = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 6)
    field /= np.abs(field).max()
    level = np.clip(np.abs(field) * 255, 80, 255).astype(np.uint8)
    towards, away = np.dstack([level * 0, level // 3, level]), np.dstack([level, level // 3, level * 0])
    colours = np.dstack([level * 0, level // 2, level]) if power else np.where((field > 0)[..., None], towards, away)
    flow = np.abs(field) > 0.25
    out[y0 : y0 + h, x0 : x0 + w][flow] = colours[flow]
    cv2.rectangle(out, (x0, y0), (x0 + w, y0 + h), (200,) * 3, 1)
    return out


def screens(real: list[np.ndarray]) -> dict[str, tuple[str, np.ndarray]]:
    """name -> (kind, BGR screen) of every screen that is not B-mode; `real`: B-mode images to paint Doppler over."""
    out = {f"text_{first}": ("text", text_screen(first)) for first in (0, 20, 35)}
    out["text_bitmap"] = ("text", text_screen(bitmap=True))
    out["text_white_large"] = ("text", text_screen(ink=255))
    out["text_dark_on_light"] = ("text", text_screen(ink=0, paper=255))
    out |= {f"menu_{seed}": ("menu", menu_screen(seed)) for seed in range(3)}
    out |= {"logo_colour": ("logo", logo_screen()), "logo_grey": ("logo", logo_screen(False))}
    out["logo_grey_on_black"] = ("logo", logo_screen(False, paper=0))
    for name, level in (("black", 0), ("grey", 40), ("white", 255)):
        out[f"blank_{name}"] = ("blank", np.full((480, 640, 3), level, np.uint8))
    no_signal = np.full((480, 640, 3), (128, 0, 0), np.uint8)
    cv2.putText(no_signal, "NO SIGNAL", (200, 250), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255,) * 3, 3, cv2.LINE_AA)
    out["blank_no_signal"] = ("blank", no_signal)
    for i, image in enumerate(real):
        for share in (0.15, 0.3, 0.5):
            out[f"doppler_{i}_{share}"] = ("colour_doppler", doppler(image, share, seed=i))
        out[f"power_doppler_{i}"] = ("colour_doppler", doppler(image, 0.3, seed=i, power=True))
    return out


def judged(pipeline: FramePipeline, image: np.ndarray) -> dict:
    """The pipeline's verdict split into the reference's reasons and the B-mode checks', with the checks' values."""
    result = pipeline(image)
    checks = [r for r in result.unfamiliar if r in CHECKS]
    statistics = [r for r in result.unfamiliar if r not in checks]
    before = tuple(f for f in result.flags if f != "unfamiliar" or statistics)  # the flags without the B-mode checks
    grey = to_grey(image[result.roi.slices])
    x = prepare_input(grey, result.roi, pipeline.engine.input_size)
    return {
        "statistics": statistics,
        "bmode": checks,
        "good_before": not refuses(before),
        "good": result.measurement.good,
        "colour": bmode.colour_share(image[result.roi.slices]),
        "flat": bmode.flat_share(x),
        "one_grey": bmode.one_grey_share(grey),
    }


def under_corruptions(paths: list[Path]) -> list[str]:
    """Table rows: how many of the images' B-mode areas the B-mode checks flag under each of the stress suite's
    corruptions (`benchmarks/stress.py`: another scanner, probe or setting), with each check's largest value."""
    masks = masks_by_stem(DL_TRACK_APO / "masks")
    areas = []
    for path in paths:
        image = cv2.imread(str(path))
        roi = detect_bmode_roi(image)
        areas.append((to_grey(image)[roi.slices], read_label_map(masks[path.stem], band=True)[roi.slices]))
    rows = []
    for name, (corrupt, severities, words) in CORRUPTIONS.items():
        for severity in severities:
            greys = [np.clip(corrupt(grey, labels, severity)[0], 0, 255).astype(np.uint8) for grey, labels in areas]
            inputs = [prepare_input(grey, Box.full(grey.shape), (384, 192)) for grey in greys]
            flagged = sum(bool(bmode.not_bmode(g, g, x)) for g, x in zip(greys, inputs, strict=True))
            flat = max(map(bmode.flat_share, inputs))
            one_grey = max(map(bmode.one_grey_share, greys))
            rows.append(f"| {name} {words.format(severity)} | {len(areas)} | {flagged} | {flat:.3f} | {one_grey:.3f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    paths = sorted((DL_TRACK_APO / "images").glob("*.png"))
    if not paths:
        raise SystemExit(f"the shared data set is not at {DL_TRACK_APO}")
    single = FramePipeline(video=False)
    rows: dict[str, list[dict]] = defaultdict(list)
    for name, (kind, image) in screens([cv2.imread(str(paths[k])) for k in (0, 100, 200, 300, 390)]).items():
        rows[kind].append({"name": name, **judged(single, image)})
    frozen = cv2.imread(str(paths[0]))
    stream = FramePipeline(video=True)
    rows["frozen (30 frames)"] = [{"name": f"frozen_{i}", **judged(stream, frozen)} for i in range(30)]
    phantom, stream = Phantom(), FramePipeline(video=True)
    rows["phantom stream (B-mode)"] = [
        {"name": f"phantom_{i}", **judged(stream, phantom.frame(i).image)} for i in range(60)
    ]
    for path in paths:
        image = cv2.imread(str(path))
        rows[f"shared set {image.shape[1]}x{image.shape[0]}"].append({"name": path.name, **judged(single, image)})
    lines = [
        "| screens | n | flagged by the statistics alone (before) | flagged now | by colour / flat / one grey / frozen "
        "| measured good before / now | largest colour share | largest flat share | largest one grey |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for kind, rs in rows.items():
        before = sum(bool(r["statistics"]) for r in rs)
        now = sum(bool(r["statistics"] or r["bmode"]) for r in rs)
        by = {c: sum(c in r["bmode"] for r in rs) for c in CHECKS}
        good_before, good = sum(r["good_before"] for r in rs), sum(r["good"] for r in rs)
        worst = {k: max(r[k] for r in rs) for k in ("colour", "flat", "one_grey")}
        summary[kind] = {"n": len(rs), "flagged_before": before, "flagged_now": now, **by, "good_before": good_before,
                         "good_now": good, **{f"max_{k}": v for k, v in worst.items()}}  # fmt: skip
        values = f"{worst['colour']:.4f} | {worst['flat']:.3f} | {worst['one_grey']:.3f}"
        lines.append(f"| {kind} | {len(rs)} | {before} | {now} | {' / '.join(str(by[c]) for c in CHECKS)} | "
                     f"{good_before} / {good} | {values} |")  # fmt: skip
        print(lines[-1], flush=True)
    limits = (f"Limits: colour share {bmode.MAX_COLOUR} (pixels whose channels differ by over {bmode.CHROMA}), flat "
              f"share {bmode.MAX_FLAT} (3x3 patches of the model input spanning under 1.5 grey levels), one grey "
              f"{bmode.MAX_ONE_GREY} (the most common level's share less that of the {bmode.NEAR} levels either side), "
              f"frozen from the {bmode.FROZEN_FRAMES}th unchanged frame of a stream.")  # fmt: skip
    corrupted = under_corruptions(paths[::8])
    print("\n".join(corrupted), flush=True)
    body = (
        "\n".join(lines)
        + "\n\n"
        + limits
        + "\n\n"
        + "\n".join(
            [
                "Under the stress suite's corruptions (every 8th image of the shared set, its B-mode area corrupted as "
                "`benchmarks/stress.py` does; colour cannot arise there):",
                "",
                "| corruption | images | flagged | largest flat share | largest one grey |",
                "|---|---|---|---|---|",
                *corrupted,
            ]
        )
    )
    print(body)
    keep_run({"machine": machine_info(), "note": args.note, "summary": summary, "rows": rows}, "not_bmode", HEAD, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
