"""Score a run's .tflite models on held-out images through the on-device path (FramePipeline: ROI -> preprocess ->
Engine -> postprocess into the native frame -> measure), with the paper's metrics, per scanner layout, latency, size
and agreement with the float model; writes evaluation.json, evaluation.md, figure4.png and worst.png into the run
directory (for another split than test: evaluation_val.json etc.)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from edge.core.labels import ABOVE, FASCIA
from edge.core.latency import PAPER_MS_PER_IMAGE, LatencyStats
from edge.core.machine import machine_info
from edge.core.postprocess import class_map
from edge.core.preprocess import prepare_labels
from edge.core.roi import Box
from edge.live.overlay import draw_overlay
from edge.live.pipeline import FramePipeline
from edge.measurement.identity import IdentityTally, band_identity
from edge.measurement.measure import fascia_runs, measure
from edge.measurement.metrics import PAPER_SCORES, SetMetrics
from quantization.data import DataError, layout, read_image, read_labels
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
        if seg.flags:
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


def _samples(run_dir: Path, split: str):
    """The samples of a run's split and the problems: those the label check leaves out, those not found."""
    from quantization.config import TrainConfig
    from quantization.data import load_samples

    cfg = TrainConfig.load(run_dir / "config.json")
    parts = json.loads((run_dir / "split.json").read_text())
    if split not in parts:
        raise ValueError(f"no split {split!r} in {run_dir}/split.json (has {sorted(parts)})")
    names = set(parts[split])
    if not names:
        raise ValueError(f"the {split} split of {run_dir} is empty")
    samples, problems = load_samples(cfg.data, cfg.label_check)
    kept = [s for s in samples if s.name in names]
    left_out = [p for p in problems if p.split(":", 1)[0] in names]  # by the label check
    named = {p.split(":", 1)[0] for p in left_out} | {s.name for s in kept}
    missing = [f"{n}: listed in the split but not found in the data" for n in sorted(names - named)]
    return kept, left_out + missing


def evaluate(run_dir: str | Path, split: str = "test", models: dict[str, Path] | None = None) -> dict:
    """Evaluate the run's models (default: float32, ptq_int8, qat_int8, those that exist) on `split`."""
    from quantization.runs import model_paths

    run_dir = Path(run_dir)
    models = models or {n: p for n, p in model_paths(run_dir).items() if p.is_file()}
    if not models:
        raise FileNotFoundError(f"no .tflite models in {run_dir}: run tlfseg convert --run {run_dir} first")
    samples, problems = _samples(run_dir, split)
    scores = {name: _ModelScore(name, Path(path)) for name, path in models.items()}
    for s in scores.values():
        print(f"evaluate: {s.pipeline.engine.describe()}", flush=True)
    firsts, spares, counts = {}, {}, {}  # figure rows: the first image of each layout, then others
    worst = _WorstImages(int8_model(scores) or next(iter(scores)))  # the failures of the int8 model that would ship
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
        roi = next(iter(segs.values())).roi  # one preprocessing: the same crop for every model
        preds = {name: seg.labels[roi.slices] for name, seg in segs.items()}
        crops = (key, image[roi.slices], labels[roi.slices], preds)
        if counts[key] == 1 or len(spares) < FIGURE_ROWS:
            (firsts if counts[key] == 1 else spares)[sample.name] = crops
        worst.offer(scores[worst.model].native.per_image[sample.name]["dice"]["fascia"], sample.name, *crops)
        if i % 10 == 0 or i == len(samples):
            print(f"evaluate: {i}/{len(samples)} {split} images", flush=True)
    result = {
        "run": str(run_dir),
        "split": split,
        "images": sum(counts.values()),
        "layouts": dict(sorted(counts.items())),
        "machine": machine(),
        "problems": problems,
        "paper": PAPER_SCORES,
        "models": {name: s.result() for name, s in scores.items()},
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


def _f(v: float | None, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def markdown_table(result: dict, resolution: str = "native") -> str:
    """Float vs PTQ vs QAT: the paper's metrics (micro over all pixels), per-image means; at native resolution
    also the agreement with float, latency and size."""
    native = resolution == "native"
    head = "| model | accuracy | mean IoU | mean Dice | fascia IoU | fascia Dice | per-image mean IoU |"
    if native:
        head += (
            " thickness error p50 / p90 (px), columns | thickness error p50 / p90 (px), images |"
            " images the runtime marks good: thickness error p50 / p90 (px) |"
            " agreement with float | inference p50 (ms) | size (MB) |"
        )
    rows = [head, "|---" * head.count(" | ") + "|---|"]
    for name, m in result["models"].items():
        micro, per = m[resolution]["micro"], m[resolution]["per_image_mean"]
        row = (
            f"| {name} | {_f(micro['accuracy'])} | {_f(micro['mean_iou'])} | {_f(micro['mean_dice'])} | "
            f"{_f(micro['iou']['fascia'])} | {_f(micro['dice']['fascia'])} | {_f(per['mean_iou'])} |"
        )
        if native:
            err, frame = m.get("thickness_error_px") or {}, m.get("frame_thickness_error_px") or {}
            good, images = m.get("good_frame_thickness_error_px"), m[resolution]["images"]
            marked = "-"  # an evaluation written before the runtime's flags were recorded
            if good is not None:
                marked = f"{_f(good['median'], 1)} / {_f(good['p90'], 1)} ({images - len(m['flagged'])} of {images})"
            row += (
                f" {_f(err.get('median'), 1)} / {_f(err.get('p90'), 1)} |"
                f" {_f(frame.get('median'), 1)} / {_f(frame.get('p90'), 1)} | {marked} |"
                f" {_f(m['agreement_with_float'], 4)} | {_f(m['latency_ms'].get('inference'), 1)} | "
                f"{m['size_bytes'] / 1e6:.2f} |"
            )
        rows.append(row)
    paper = result["paper"]
    row = (
        f"| paper (float Keras, TLF data) | {paper['accuracy']:.2f} | {paper['mean_iou']:.2f} | "
        f"{paper['dice']:.2f} | - | - | - |"
    )
    rows.append(row + (f" - | - | - | - | {PAPER_MS_PER_IMAGE:.0f} (whole prediction) | - |" if native else ""))
    return "\n".join(rows)


def layout_table(result: dict) -> str:
    rows = ["| layout | images | " + " | ".join(f"{n} mean IoU | {n} fascia Dice" for n in result["models"]) + " |"]
    rows.append("|---|---|" + "---|---|" * len(result["models"]))
    for key, n in result["layouts"].items():
        cells = []
        for m in result["models"].values():
            micro = m["layouts"][key]["micro"]
            cells += [_f(micro["mean_iou"]), _f(micro["dice"]["fascia"])]
        rows.append(f"| {key} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def identity_table(result: dict) -> str:
    """Per model and layout: wrong-structure frames, those reported good, right frames flagged, band depth error."""
    head = (
        "| model | layout | frames | wrong structure | wrong, reported good | right, flagged |"
        " band centre depth error p50 / p90 (px) |"
    )
    rows = [head, "|---|---|---|---|---|---|---|"]
    for name, m in result["models"].items():
        if "band_identity" not in m:  # an evaluation written before band identity was recorded
            continue
        for key, b in [("all", m["band_identity"]), *m["layout_band_identity"].items()]:
            depth = b["depth_error_px"]
            rows.append(
                f"| {name} | {key} | {b['frames']} | {b['wrong']} ({_pct(b['wrong_share'])}) | "
                f"{b['wrong_good']} ({_pct(b['wrong_good_share'])}) | {b['right_flagged']} "
                f"({_pct(b['right_flagged_share'])} of right) | {_f(depth['median'], 1)} / {_f(depth['p90'], 1)} |"
            )
    return "\n".join(rows)


def risk_coverage_table(result: dict) -> str:
    """The int8 model's flags as refusal rules: coverage (frames still reported) against risk (wrong among them)."""
    name = int8_model(result["models"]) or next(iter(result["models"]))
    b = result["models"][name].get("band_identity")
    if b is None:
        return ""
    rows = [f"| {name}: frames refused when | coverage | risk (wrong structure among those reported) |"]
    rows.append("|---|---|---|")
    rows += [f"| {r['rule']} | {_pct(r['coverage'])} | {_pct(r['risk'])} |" for r in b["risk_coverage"]]
    return "\n".join(rows)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def worst_table(result: dict) -> str:
    """Per model: the spread of the images' own fascia Dice and the images where it is lowest."""
    rows = ["| model | fascia Dice per image: p10 / median / mean | lowest (image: Dice, the runtime's flags) |"]
    rows.append("|---|---|---|")
    for name, m in result["models"].items():
        spread = m["native"].get("fascia_dice_per_image")
        if spread is None:  # an evaluation written before the spread was recorded
            continue
        mean = m["native"]["per_image_mean"]["fascia_dice"]
        flagged = m.get("flagged", {})
        worst = ", ".join(
            f"{n}: {d:.2f}" + (f" ({', '.join(flagged[n])})" if n in flagged else "") for n, d in spread["worst"]
        )
        rows.append(f"| {name} | {_f(spread['p10'])} / {_f(spread['median'])} / {_f(mean)} | {worst} |")
    return "\n".join(rows)


#: what each split was used for, as the evaluation report states it
SPLIT_ROLE = {
    "test": "never used for training or model selection",
    "val": "used to pick the best epoch, not for training",
    "train": "the images the model trained on",
}


def markdown(result: dict) -> str:
    lat = next(iter(result["models"].values()))
    parts = [
        f"# Evaluation: {result['run']}",
        "",
        f"{result['images']} images of the **{result['split']}** split ({SPLIT_ROLE[result['split']]}), "
        "run through the on-device path (`edge.live.pipeline.FramePipeline`: ROI detection, preprocessing, "
        f"LiteRT `Engine` ({lat['backend']}, 1 thread) on {result['machine']}, probabilities upsampled into the "
        "native frame). "
        "Scores are over labelled pixels (columns without a labelled band are ignored); *micro* pools all "
        "pixels of the set, *per-image* averages the images' own scores. Agreement: fraction of native pixels "
        "where the int8 class equals the float32 model's. Thickness error: per annotated column, |predicted - "
        "annotated| vertical fascia run; per image, |reported - annotated| thickness, as the runtime reports it "
        "(`edge.measurement.measure`: median perpendicular thickness over the annotated columns).",
        "",
        "## Native resolution",
        "",
        markdown_table(result, "native"),
        "",
        "## Model resolution (input crop resized to the model's input)",
        "",
        markdown_table(result, "model_resolution"),
        "",
        "## Per scanner layout (native, micro)",
        "",
        layout_table(result),
        "",
        "Latency is the median LiteRT inference time per image on this machine, 1 thread; the paper's figure is "
        "its whole prediction time (43 s for 87 images).",
        "",
        f"![image / annotation / predictions]({figure_name(result['split'])})",
        "",
        "## Is it the right band?",
        "",
        "A *wrong-structure* frame: the image's own fascia Dice below 0.3, or the predicted band's median centre row "
        "(over the annotated columns) further from the annotated band's than that band is thick, or no band there. "
        "*Reported good*: the runtime raised no flag, so a clinic would read its thickness. *Right, flagged*: a right "
        "frame the runtime refused (lost coverage).",
        "",
        identity_table(result),
        "",
        risk_coverage_table(result),
        "",
        "## Where the fascia Dice is lost",
        "",
        "The set's fascia Dice pools every pixel; per image it spreads out, and a few images pull the mean down. "
        "The figure shows the lowest ones, cut to the band's rows.",
        "",
        worst_table(result),
        "",
        f"![the images with the lowest fascia Dice]({figure_name(result['split'], 'worst')})",
        "",
    ]
    if result["problems"]:
        parts += ["## Skipped", "", *(f"- {p}" for p in result["problems"]), ""]
    return "\n".join(parts)


def figure_name(split: str, stem: str = "figure4") -> str:
    return f"{stem}.png" if split == "test" else f"{stem}_{split}.png"


def figure4(shown: dict, out: Path, title: str = "held-out images (B-mode crop)", panel_inches: float = 3) -> None:
    """Image / annotation / each model's prediction inside the B-mode crop, a row per image (the paper's Figure 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not shown:
        return
    models = list(next(iter(shown.values()))[3])
    cols = 2 + len(models)
    aspect = float(np.mean([v[1].shape[0] / v[1].shape[1] for v in shown.values()]))
    size = (panel_inches * cols, panel_inches * aspect * len(shown) + 0.8)
    fig, axes = plt.subplots(len(shown), cols, figsize=size, squeeze=False)
    for row, (name, (key, image, labels, preds)) in enumerate(shown.items()):
        panels = [("image", image), ("annotation", draw_overlay(image, labels))]
        panels += [(m, draw_overlay(image, p)) for m, p in preds.items()]
        for col, (heading, pic) in enumerate(panels):
            ax = axes[row, col]
            pic = pic if pic.ndim == 2 else cv2.cvtColor(pic[..., :3], cv2.COLOR_BGR2RGB)
            ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(heading)
        axes[row, 0].set_ylabel(f"{name}\n{key}", fontsize=8)
    fig.suptitle(f"{title}: fascia (yellow), tissue below (blue); annotation and predictions")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
