"""Segment a folder of images: label maps (and overlays) on disk, timings, and scores against masks if given."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.core.grey import to_grey
from edge.core.imagefiles import ImageFileError, masks_by_stem, read_image, read_label_map
from edge.core.label_check import drawn_bands, label_offset
from edge.core.labels import CLASS_NAMES, IGNORE
from edge.core.latency import LatencyStats
from edge.live.overlay import draw_overlay
from edge.live.pipeline import FramePipeline
from edge.measurement.identity import IdentityTally, band_identity
from edge.measurement.metrics import PAPER_SCORES, SetMetrics


class MaskSet:
    """Reference label maps for scoring: a folder of masks paired with images by file stem."""

    def __init__(self, folder: str | Path, band: bool = False, check: bool = True) -> None:
        """`check`: a mask that does not sit on its image (`edge.core.label_check`) is not scored, with the reason."""
        self.folder, self.band, self.check = Path(folder), band, check
        self.by_stem = masks_by_stem(self.folder)

    def labels_for(self, image: Path, frame: np.ndarray) -> np.ndarray:
        """The image's native label map; ValueError (the reason it cannot be scored) otherwise."""
        path = self.by_stem.get(image.stem)
        if path is None:
            raise ValueError(f"no mask named {image.stem}.* in {self.folder}")
        labels = read_label_map(path, band=self.band)
        h, w = frame.shape[:2]
        if labels.shape != (h, w):
            raise ValueError(f"mask {path.name} is {labels.shape[1]}x{labels.shape[0]}, the image is {w}x{h}")
        if not (labels != IGNORE).any():
            raise ValueError(f"mask {path.name} has no labelled pixels")
        if self.check:
            bands = drawn_bands(read_image(path) if self.band else labels, self.band)
            offset = label_offset(to_grey(frame), bands)
            if offset is not None and offset.misregistered:
                raise ValueError(f"mask {path.name}: {offset.describe()} (--no-label-check scores it anyway)")
        return labels


@dataclass
class PredictRun:
    """What a folder run produced: per-image records, failures, unscored images, latency and scores."""

    total: int
    results: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  #: {"image", "reason"}: not segmented
    unscored: list[dict] = field(default_factory=list)  #: {"image", "reason"}: segmented, not scored
    latency: LatencyStats = field(default_factory=LatencyStats)
    metrics: SetMetrics | None = None
    identity: IdentityTally = field(default_factory=IdentityTally)  #: wrong-structure frames, against the masks
    wall_s: float = 0.0

    def to_json(self) -> dict:
        out = {
            "images": self.total,
            "segmented": len(self.results),
            "failed": len(self.failures),
            "wall_s": self.wall_s,
            "results": self.results,
            "failures": self.failures,
            "latency_ms": self.latency.summary(),
            "paper_comparison": self.latency.paper_comparison() if len(self.latency) else None,
        }
        if self.metrics is not None:
            out["unscored"] = self.unscored
            out["scores"] = self.metrics.summary() if self.metrics.per_image else None
            out["band_identity"] = self.identity.summary() if self.identity.frames else None
            out["paper_scores"] = PAPER_SCORES
        return json_safe(out)


def json_safe(value):
    """NaN/inf -> None and numpy scalars -> Python numbers, recursively, so the result is strict JSON."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_png(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode {path.name}")
    data.tofile(path)


def predict_folder(
    pipeline: FramePipeline,
    images: list[Path],
    out_dir: Path,
    overlays: bool = False,
    masks: MaskSet | None = None,
    log: Callable[[str], None] = print,
) -> PredictRun:
    """Segment and measure `images` one by one, writing ``out_dir/<stem>.png`` (0/1/2 at native size) and overlays.

    A file that cannot be read or segmented is logged and recorded as a failure; the rest go on.
    With `masks`, each segmented image with a usable mask is scored; the others are recorded as unscored.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if overlays:
        (out_dir / "overlays").mkdir(exist_ok=True)
    run = PredictRun(total=len(images), metrics=SetMetrics() if masks is not None else None)
    owner: dict[str, str] = {}  # output stem -> image that claimed it
    start = time.perf_counter()
    for i, path in enumerate(images, 1):
        prefix = f"[{i}/{len(images)}] {path.name}"
        try:
            if path.stem in owner:
                raise ValueError(f"output {path.stem}.png already written for {owner[path.stem]}")
            t0 = time.perf_counter()
            frame = read_image(path)
            t1 = time.perf_counter()
            seg = pipeline(frame)
            _write_png(out_dir / f"{path.stem}.png", seg.labels)
        except (ValueError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ImageFileError) and exc.path == path else str(exc)
            run.failures.append({"image": path.name, "reason": reason})
            log(f"{prefix}: FAILED: {reason}")
            continue
        owner[path.stem] = path.name
        run.latency.add(seg.timings_ms)
        total_ms = seg.timings_ms["total"]
        record = {
            "image": path.name,
            "output": f"{path.stem}.png",
            "size": [int(frame.shape[1]), int(frame.shape[0])],
            "roi": [seg.roi.x, seg.roi.y, seg.roi.w, seg.roi.h],
            "timings_ms": seg.timings_ms,
            "measurement": seg.measurement.to_dict(),
            "read_ms": (t1 - t0) * 1e3,
        }
        line = f"{prefix}: {total_ms:.1f} ms, ROI {seg.roi}"
        text = [path.name, f"{total_ms:.0f} ms"]
        if masks is not None:
            try:
                target = masks.labels_for(path, frame)
            except (ValueError, OSError) as exc:
                run.unscored.append({"image": path.name, "reason": str(exc)})
                line += f", not scored: {exc}"
            else:
                record["scores"] = run.metrics.add(path.name, seg.labels, target)
                dice = record["scores"]["dice"]["fascia"]
                identity = band_identity(seg.labels, target, dice)
                run.identity.add(path.name, identity, seg.flags)
                line += f", fascia Dice {dice:.3f}"
                if identity is not None:
                    record["wrong_structure"] = identity.wrong
                    line += ", WRONG STRUCTURE" if identity.wrong else ""
                text.append(f"fascia Dice {dice:.2f}")
        if overlays:
            try:
                _write_png(out_dir / "overlays" / f"{path.stem}.png", draw_overlay(frame, seg.labels, seg.roi, text))
                record["overlay"] = f"overlays/{path.stem}.png"
            except (ValueError, OSError) as exc:
                record["overlay_error"] = str(exc)
                line += f", overlay failed: {exc}"
        run.results.append(record)
        log(line)
    run.wall_s = time.perf_counter() - start
    return run


def format_identity(b: dict) -> str:
    """Wrong-structure frames as printed lines: how many, how many the runtime reported as good, right ones flagged."""
    lines = [
        f"band identity over {b['frames']} images: {b['wrong']} wrong structure ({b['wrong_share']:.1%}), "
        f"{b['wrong_good']} of them reported as good measurements; {b['right_flagged']} right images flagged",
    ]
    if b["wrong_good_frames"]:
        lines.append("  wrong structure, reported good: " + ", ".join(b["wrong_good_frames"][:10]))
    return "\n".join(lines)


def format_scores(summary: dict) -> str:
    """Micro and per-image scores as printed lines, with the paper's numbers for comparison."""
    micro, per = summary["micro"], summary["per_image_mean"]

    def f(v: float) -> str:
        return "n/a" if not math.isfinite(v) else f"{v:.3f}"

    dice = "  ".join(f"{n} {f(micro['dice'][n])}" for n in CLASS_NAMES)
    return "\n".join(
        [
            f"scores over {summary['images']} images ({micro['pixels']} labelled pixels):",
            f"  micro: accuracy {f(micro['accuracy'])}  mean IoU {f(micro['mean_iou'])}  "
            f"mean Dice {f(micro['mean_dice'])}",
            f"  per-class Dice: {dice}",
            f"  per-image mean: accuracy {f(per['accuracy'])}  mean IoU {f(per['mean_iou'])}  "
            f"mean Dice {f(per['mean_dice'])}  fascia Dice {f(per['fascia_dice'])}",
            f"  paper (87 TLF images): accuracy {PAPER_SCORES['accuracy']:.2f}  "
            f"mean IoU {PAPER_SCORES['mean_iou']:.2f}  Dice {PAPER_SCORES['dice']:.2f}",
        ]
    )
