"""Score a run's .tflite models on held-out images through the on-device path (FramePipeline: ROI -> preprocess ->
Engine -> postprocess into the native frame -> measure), with the paper's metrics, per scanner layout, latency, size
and agreement with the float model; writes evaluation.json, evaluation.md, figure4.png and worst.png into the run
directory (for another split than test: evaluation_val.json etc.)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.core.labels import ABOVE, FASCIA
from edge.core.latency import LatencyStats
from edge.core.machine import machine_info
from edge.core.postprocess import class_map
from edge.core.preprocess import prepare_labels
from edge.core.roi import Box
from edge.live.pipeline import FramePipeline
from edge.measurement.flags import refuses
from edge.measurement.identity import IdentityTally, band_identity
from edge.measurement.measure import fascia_runs, measure
from edge.measurement.metrics import PAPER_SCORES, SetMetrics
from quantization.data import DataError, layout, read_image, read_labels
from quantization.evaluation_report import figure_name, markdown, markdown_table
from quantization.plots import figure4
from quantization.run_data import split_samples
from quantization.runs import int8_model

FIGURE_ROWS = 4
WORST_ROWS = 6


def machine() -> str:
    """The CPU the latency was measured on, with the features that set its int8 speed."""
    info = machine_info()
    flags = f" ({' '.join(info['isa_flags'])})" if info["isa_flags"] else ""
    return f"{info['cpu']}, {info['cores']} logical CPUs{flags}"


class _ModelScore:
    """Everything measured for one model over the evaluated images."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.pipeline = FramePipeline(path, video=False, threads=1)
        self.native, self.model_res = SetMetrics(), SetMetrics()
        self.layouts: dict[str, SetMetrics] = {}
        self.identity, self.layout_identity = IdentityTally(), {}
        self.latency = LatencyStats()
        self.same = self.pixels = 0
        self.thickness_errors: list[np.ndarray] = []
        self.frame_errors: dict[str, float | None] = {}
        self.flagged: dict[str, list[str]] = {}  #: images the runtime would not report, with its flags

    def add(self, name: str, key: str, image: np.ndarray, labels: np.ndarray):
        """Segment and measure one image and score it; returns the FrameResult."""
        seg = self.pipeline(image)
        self.latency.add(seg.timings_ms)
        self.native.add(name, seg.labels, labels)
        scores = self.layouts.setdefault(key, SetMetrics()).add(name, seg.labels, labels)
        identity = band_identity(seg.labels, labels, scores["dice"]["fascia"])
        self.identity.add(name, identity, seg.flags)
        self.layout_identity.setdefault(key, IdentityTally()).add(name, identity, seg.flags)
        size = self.pipeline.engine.output_size
        self.model_res.add(name, class_map(seg.probs), prepare_labels(labels, seg.roi, size))
        self.thickness_errors.append(thickness_errors(seg.labels, labels))
        self.frame_errors[name] = frame_thickness_error(seg.labels, labels)
        if refuses(seg.flags):
            self.flagged[name] = list(seg.flags)
        return seg

    def agree(self, pred: np.ndarray, reference: np.ndarray) -> None:
        self.same += int(np.count_nonzero(pred == reference))
        self.pixels += pred.size

    def result(self) -> dict:
        engine = self.pipeline.engine
        lat = self.latency.summary()
        return {
            "file": str(self.path),
            "size_bytes": self.path.stat().st_size,
            "precision": engine.precision,
            "backend": engine.backend,
            "threads": 1,
            "native": self.native.summary(),
            "model_resolution": self.model_res.summary(),
            "layouts": {k: m.summary() for k, m in sorted(self.layouts.items())},
            "band_identity": self.identity.summary(),
            "layout_band_identity": {k: t.summary() for k, t in sorted(self.layout_identity.items())},
            "latency_ms": {stage: lat[stage]["p50"] for stage in lat},
            "agreement_with_float": self.same / self.pixels if self.pixels else None,
            "thickness_error_px": _error_summary(np.concatenate(self.thickness_errors or [np.zeros(0)])),
            "frame_thickness_error_px": _frame_summary(list(self.frame_errors.values())),
            "good_frame_thickness_error_px": _frame_summary(
                [e for name, e in self.frame_errors.items() if name not in self.flagged]
            ),
            "flagged": self.flagged,
        }


def thickness_errors(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per labelled column with fascia: |predicted - annotated| fascia thickness in native pixels (vertical runs,
    the annotation's own definition; a column where the prediction finds no fascia counts its whole thickness)."""
    truth, found = fascia_runs(labels).length, fascia_runs(pred).length
    columns = truth > 0
    return np.abs(found[columns] - truth[columns]).astype(np.float64)


def frame_thickness_error(pred: np.ndarray, labels: np.ndarray) -> float | None:
    """|reported - annotated| thickness of one image in native pixels: `edge.measurement.measure`, the number the
    runtime reports (the median perpendicular thickness over the columns), of the prediction and of the annotation,
    both over the columns the annotation labels. None where it labels no fascia or the prediction finds none."""
    labelled = fascia_runs(labels).length > 0
    if not labelled.any():
        return None
    box = Box.full(labels.shape)
    found = measure(np.where(labelled, pred, ABOVE).astype(np.uint8), box).thickness_px
    return None if found is None else abs(found - measure(labels, box).thickness_px)


class _WorstImages:
    """The images where one model's fascia Dice is lowest, cut to the rows around the band (at least a quarter of the
    width tall): what its failures look like, its prediction beside the annotation."""

    def __init__(self, model: str, count: int = WORST_ROWS) -> None:
        self.model, self.count = model, count
        self.rows: list[tuple[float, str, tuple]] = []

    def offer(self, dice: float, name: str, key: str, image: np.ndarray, labels: np.ndarray, preds: dict) -> None:
        """Keep this image (ROI crops) if it is among the `count` lowest so far."""
        if not np.isfinite(dice) or (len(self.rows) == self.count and dice >= self.rows[-1][0]):
            return
        pred = preds[self.model]
        found = np.flatnonzero(np.any(labels == FASCIA, axis=1) | np.any(pred == FASCIA, axis=1))
        if found.size:
            pad = max(10, (found[-1] - found[0]) // 2, labels.shape[1] // 8)
            rows = slice(max(0, found[0] - pad), found[-1] + pad + 1)
            image, labels, pred = image[rows], labels[rows], pred[rows]
        self.rows.append((dice, name, (f"{key}, Dice {dice:.2f}", image, labels, {self.model: pred})))
        self.rows.sort(key=lambda row: row[0])
        del self.rows[self.count :]

    def shown(self) -> dict:
        return {name: entry for _, name, entry in self.rows}


def _frame_summary(errors: list[float | None]) -> dict:
    """Per-image thickness errors: median, 90th percentile, images without a measurement."""
    measured = np.array([e for e in errors if e is not None], np.float64)
    return {**_error_summary(measured, "images"), "missed": len(errors) - int(measured.size)}


def _error_summary(errors: np.ndarray, unit: str = "columns") -> dict:
    if not errors.size:
        return {unit: 0, "median": None, "p90": None, "mean": None}
    p50, p90 = np.percentile(errors, [50, 90])
    return {unit: int(errors.size), "median": float(p50), "p90": float(p90), "mean": float(errors.mean())}


def score(samples: list, models: dict[str, Path], what: str = "images", on_image=None) -> dict:
    """Score `models` ({name: .tflite}) on `samples` through the on-device path: {"images", "layouts", "problems",
    "models": {name: scores}}. `on_image(sample, key, image, labels, segs)` sees each image scored (with its layout
    key and each model's FrameResult); `what` names the images in the progress lines."""
    scores = {name: _ModelScore(name, Path(path)) for name, path in models.items()}
    for s in scores.values():
        print(f"evaluate: {s.pipeline.engine.describe()}", flush=True)
    counts, problems = {}, []
    for i, sample in enumerate(samples, 1):
        try:
            image, labels = read_image(sample.image), read_labels(sample)
            if labels.shape != image.shape[:2]:
                raise DataError(f"{sample.mask}: mask is {labels.shape[::-1]}, image is {image.shape[1::-1]}")
            key = layout(image)
            segs = {name: s.add(sample.name, key, image, labels) for name, s in scores.items()}
        except (DataError, ValueError) as exc:
            problems.append(f"{sample.name}: {exc}")
            print(f"skipped: {sample.name}: {exc}", flush=True)
            continue
        if "float32" in segs:
            for name, s in scores.items():
                if name != "float32":
                    s.agree(segs[name].labels, segs["float32"].labels)
        counts[key] = counts.get(key, 0) + 1
        if on_image is not None:
            on_image(sample, key, image, labels, segs, scores)
        if i % 10 == 0 or i == len(samples):
            print(f"evaluate: {i}/{len(samples)} {what}", flush=True)
    return {
        "images": sum(counts.values()),
        "layouts": dict(sorted(counts.items())),
        "problems": problems,
        "models": {name: s.result() for name, s in scores.items()},
    }


def evaluate(run_dir: str | Path, split: str = "test", models: dict[str, Path] | None = None) -> dict:
    """Evaluate the run's models (default: float32, ptq_int8, qat_int8, those that exist) on `split`."""
    from quantization.runs import model_paths

    run_dir = Path(run_dir)
    models = models or {n: p for n, p in model_paths(run_dir).items() if p.is_file()}
    if not models:
        raise FileNotFoundError(f"no .tflite models in {run_dir}: run tlfseg convert --run {run_dir} first")
    samples, problems = split_samples(run_dir, split)
    firsts, spares = {}, {}  # figure rows: the first image of each layout, then others
    worst = _WorstImages(int8_model(models) or next(iter(models)))  # the failures of the int8 model that would ship

    def keep(sample, key, image, labels, segs, scores):
        roi = next(iter(segs.values())).roi  # one preprocessing: the same crop for every model
        preds = {name: seg.labels[roi.slices] for name, seg in segs.items()}
        crops = (key, image[roi.slices], labels[roi.slices], preds)
        first = key not in {row[0] for row in firsts.values()}
        if first or len(spares) < FIGURE_ROWS:
            (firsts if first else spares)[sample.name] = crops
        worst.offer(scores[worst.model].native.per_image[sample.name]["dice"]["fascia"], sample.name, *crops)

    scored = score(samples, models, f"{split} images", keep)
    result = {
        "run": str(run_dir),
        "split": split,
        "images": scored["images"],
        "layouts": scored["layouts"],
        "machine": machine(),
        "problems": problems + scored["problems"],
        "paper": PAPER_SCORES,
        "models": scored["models"],
    }
    stem = "evaluation" if split == "test" else f"evaluation_{split}"
    (run_dir / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (run_dir / f"{stem}.md").write_text(markdown(result))
    shown = [*firsts.items(), *spares.items()][:FIGURE_ROWS]
    figure4(dict(shown), run_dir / figure_name(split))
    figure4(
        worst.shown(),
        run_dir / figure_name(split, "worst"),
        f"the {len(worst.rows)} images where {worst.model} scores the lowest fascia Dice, cut to the band's rows",
        panel_inches=5,
    )
    print(markdown_table(result), flush=True)
    print(f"wrote {run_dir}/{stem}.md and {stem}.json", flush=True)
    return result
