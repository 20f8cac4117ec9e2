"""What the runtime reports for each frame, kept as a reference that later code must reproduce (issue 28).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/frame_reference.py      # rewrites tests/frame_reference.json

Runs through `FramePipeline` on the bundled int8 model:
- "auto": the shared set's test split (names in edge/models/model.json) as `tlfseg predict` runs it, the B-mode area
  detected on every image (none of them flagged);
- "hinted": the same with the operator's hint at the band's depth (the settled path: the chosen band is the class map);
- "shifted", "doubled": each image's B-mode area with its right half moved down by three band thicknesses, or with the
  band's rows laid over the rows 2.5 thicknesses below it, measured with `--second-line 0.9` (the flags' paths:
  pieces, the winning piece, split layers, rival candidates, a second line);
- "phantom": a 1920x1080 phantom stream whose layers glide: fixed ROI, depth calibration, gliding (the live loop).
Per frame: the measurement (`Measurement.to_dict`), the class counts of the native label map out, gliding's step
where on. tests/test_live_frame_reference.py runs the same frames and holds the numbers to the tolerances it states.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.stress import whole_image  # noqa: E402
from edge.core.engine import Engine  # noqa: E402
from edge.core.grey import to_grey  # noqa: E402
from edge.core.imagefiles import read_image  # noqa: E402
from edge.core.labels import NUM_CLASSES  # noqa: E402
from edge.core.paths import DL_TRACK_APO  # noqa: E402
from edge.core.roi import Box, detect_bmode_roi  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402
from edge.live.pipeline import FramePipeline, FrameResult  # noqa: E402
from edge.measurement.candidates import OperatorPrior  # noqa: E402
from edge.measurement.measure import Calibration, MeasureConfig  # noqa: E402

REFERENCE = ROOT / "tests" / "frame_reference.json"
MODEL_CARD = ROOT / "edge" / "models" / "model.json"
SCREEN, BMODE, DEPTH_MM, PHANTOM_FRAMES = (1080, 1920), Box(460, 90, 1000, 900), 40.0, 12


def test_images(data: Path = DL_TRACK_APO) -> list[Path]:
    """The shared set's test split, in the model card's order."""
    names = json.loads(MODEL_CARD.read_text())["split"]["names"]["test"]
    return [data / "images" / f"{name}.png" for name in names]


def record(result: FrameResult) -> dict:
    """What the runtime reports for one frame: its ROI, measurement, the label map's class counts, gliding's step."""
    counts = np.bincount(result.labels.ravel(), minlength=NUM_CLASSES)
    out = {
        "roi": [result.roi.x, result.roi.y, result.roi.w, result.roi.h],
        "measurement": result.measurement.to_dict(),
        "class_counts": [int(c) for c in counts],
    }
    if result.gliding is not None:
        out["gliding"] = result.gliding.to_dict()
    return out


def shifted(grey: np.ndarray, auto: dict) -> np.ndarray:
    """The right half of the B-mode area moved down by three band thicknesses (`auto`: the image's measurement)."""
    out, half, d = grey.copy(), grey.shape[1] // 2, round(3 * (auto["vertical_px"] or 8))
    out[d:, half:] = grey[:-d, half:]
    out[:d, half:] = round(float(grey[:d, half:].mean()))
    return out


def doubled(grey: np.ndarray, auto: dict) -> np.ndarray:
    """The band's rows (its centre +- one thickness) laid over the rows 2.5 thicknesses below it."""
    centre, t = int(auto["depth_px"]), int(auto["vertical_px"])
    band = grey[max(centre - t, 0) : centre + t + 1]
    at = centre + int(2.5 * t)
    n = min(band.shape[0], grey.shape[0] - at)
    out = grey.copy()
    if n > 0:
        out[at : at + n] = np.maximum(out[at : at + n], band[:n])
    return out


def still_records(engine: Engine, images: list[Path], made_from: dict[str, dict] | None = None):
    """(run, image, record) for the still runs. The hint and the variants are made from each image's "auto"
    measurement in `made_from` (the kept reference, so that every run sees the same frames), else from this run's."""
    auto, other = FramePipeline(engine, video=False), FramePipeline(engine, video=False)
    view = FramePipeline(engine, whole_image, video=False)
    lines = FramePipeline(engine, whole_image, video=False, measure_config=MeasureConfig(max_line_rival=0.9))
    for path in images:
        frame = read_image(path)
        first = record(auto(frame))
        yield "auto", path.stem, first
        m = (made_from or {}).get(path.stem, first)["measurement"]
        if m["depth_px"] is None:
            continue
        other.prior = OperatorPrior(hint_px=m["depth_px"])
        yield "hinted", path.stem, record(other(frame))
        grey = to_grey(frame[detect_bmode_roi(frame).slices])
        yield "shifted", path.stem, record(view(shifted(grey, m)))
        yield "doubled", path.stem, record(lines(doubled(grey, m)))  # with --second-line 0.9


def phantom_records(engine: Engine) -> Iterator[tuple[str, str, dict]]:
    """(run, frame, record) of a 1920x1080 phantom stream whose layers glide: fixed ROI, depth calibration, gliding."""
    phantom = Phantom(screen=SCREEN, roi=BMODE, glide=1.0, persistence=0.95)
    pipeline = FramePipeline(engine, BMODE, calibration=Calibration(depth_mm=DEPTH_MM), gliding=True)
    for i in range(PHANTOM_FRAMES):
        yield "phantom", str(i), record(pipeline(phantom.frame(i).image))


def all_records(engine: Engine, images: list[Path], made_from: dict[str, dict] | None = None) -> dict[str, dict]:
    """{run: {frame: record}} for every run (`made_from`: as `still_records`)."""
    out: dict[str, dict[str, dict]] = {}
    for run, name, rec in [*still_records(engine, images, made_from), *phantom_records(engine)]:
        out.setdefault(run, {})[name] = rec
    return out


def main() -> int:
    images = test_images()
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} test images missing under {DL_TRACK_APO} (the shared set)")
    records = all_records(Engine(), images)
    REFERENCE.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE}: " + ", ".join(f"{run} {len(r)}" for run, r in records.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
