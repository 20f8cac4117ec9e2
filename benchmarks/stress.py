"""Robustness under named corruptions (the paper's future work: "robustness under noise patterns"), 3 severities each.

    python benchmarks/stress.py                       # the bundled int8 model on its own test images
    python benchmarks/stress.py --run runs/w16_depth/512x512-seed0 [--limit 40]   # a run's int8 model, its test split

Each held-out image's B-mode area (detected as the runtime does) is corrupted as another scanner, probe, setting or
grabber would change it, with its labels moved the same way, and runs through the on-device `FramePipeline` (int8,
1 thread). Per corruption and severity: fascia Dice (micro), its ratio to the clean images', wrong-structure frames
(`edge.measurement.identity`), those the runtime reported as good, the frames it flagged and those flagged
`unfamiliar` (outside the model's input reference). Writes results/stress.md (newest first) and
results/img/stress_<time>.png (Dice and wrong-structure rate per severity), appends the run to results/raw/stress.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import PICTURES, keep_run, picture_path  # noqa: E402
from edge.core.engine import DEFAULT_MODEL  # noqa: E402
from edge.core.grey import to_grey  # noqa: E402
from edge.core.labels import FASCIA  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.core.roi import Box, detect_bmode_roi  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.measurement.identity import IdentityTally, band_identity  # noqa: E402
from edge.measurement.metrics import SetMetrics  # noqa: E402

HEAD = (
    "# Robustness under corruptions\n\n"
    "`python benchmarks/stress.py`. Per corruption and severity, held-out images through the on-device path: fascia "
    "Dice and its ratio to the clean images', the share of wrong-structure frames and of those reported good, of "
    "frames flagged and of those flagged unfamiliar; the picture: Dice and the wrong-structure rate per severity.\n"
)
View = tuple[np.ndarray, np.ndarray]  #: (grey B-mode area, its labels) as the model is given them


def _band_rows(labels: np.ndarray) -> tuple[int, int]:
    """First and one-past-last row holding labelled fascia (the whole band, every column)."""
    rows = np.flatnonzero((labels == FASCIA).any(axis=1))
    return (int(rows[0]), int(rows[-1]) + 1) if rows.size else (labels.shape[0], labels.shape[0])


def _pixels(scale: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray, float], View]:
    """A corruption of the grey levels alone (the labels stay)."""
    return lambda grey, labels, s: (np.clip(scale(grey.astype(np.float32), s), 0, 255).astype(np.uint8), labels)


def _gamma(g: np.ndarray, s: float) -> np.ndarray:
    return 255.0 * (g / 255.0) ** s


def _tgc(g: np.ndarray, s: float) -> np.ndarray:
    """A depth-gain ramp: full gain at the top, `s` of it at the bottom."""
    return g * np.linspace(1.0, s, g.shape[0], dtype=np.float32)[:, None]


def _blur(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    """Coarser speckle, as from a lower-frequency probe: a Gaussian blur of `s` px."""
    return cv2.GaussianBlur(grey, (0, 0), s), labels


def _noise(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    noise = np.random.default_rng(int(grey.sum()) % 2**32).normal(0, s, grey.shape)
    return np.clip(grey + noise, 0, 255).astype(np.uint8), labels


def _jpeg(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    """MJPG compression as from a USB grabber, at JPEG quality `s`."""
    ok, data = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, int(s)])
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), labels


def _resolution(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    """A coarser scanner image: down by `s`, back up bilinearly."""
    h, w = grey.shape
    small = cv2.resize(grey, (max(1, round(w / s)), max(1, round(h / s))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), labels


def _top_removed(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    """The image starts deeper: the top `s` of the rows cut off (never into the band; the band and all below it
    are untouched), as with less tissue above the fascia or a probe pressed harder."""
    cut = min(round(s * grey.shape[0]), _band_rows(labels)[0])
    return grey[cut:], labels[cut:]


def _bottom_removed(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    """A shallower depth setting: the bottom `s` of the rows cut off (never into the band): the band deeper in the
    picture and thicker."""
    keep = max(round((1 - s) * grey.shape[0]), _band_rows(labels)[1])
    return grey[:keep], labels[:keep]


def _more_above(grey: np.ndarray, labels: np.ndarray, s: float) -> View:
    """More tissue above the band: the rows above it stretched by 1 + `s` (no seam, no filler), the rest as it was."""
    top = _band_rows(labels)[0]
    if top < 2:
        return grey, labels
    rows = round(top * (1 + s))
    above = cv2.resize(grey[:top], (grey.shape[1], rows), interpolation=cv2.INTER_LINEAR)
    above_labels = cv2.resize(labels[:top], (grey.shape[1], rows), interpolation=cv2.INTER_NEAREST)
    return np.vstack([above, grey[top:]]), np.vstack([above_labels, labels[top:]])


#: corruption -> (function of (grey, labels, severity), the three severities, how a severity reads)
CORRUPTIONS: dict[str, tuple[Callable[[np.ndarray, np.ndarray, float], View], tuple[float, ...], str]] = {
    "gain up": (_pixels(lambda g, s: g * s), (1.3, 1.6, 2.0), "x{:g}"),
    "gain down": (_pixels(lambda g, s: g * s), (0.7, 0.5, 0.35), "x{:g}"),
    "gamma": (_pixels(_gamma), (1.4, 1.8, 2.5), "gamma {:g}"),
    "depth-gain ramp": (_pixels(_tgc), (0.7, 0.5, 0.3), "bottom x{:g}"),
    "blur": (_blur, (1.5, 3.0, 5.0), "sigma {:g} px"),
    "noise": (_noise, (8.0, 16.0, 32.0), "sigma {:g}"),
    "jpeg": (_jpeg, (50.0, 25.0, 10.0), "quality {:g}"),
    "resolution": (_resolution, (2.0, 3.0, 4.0), "1/{:g}"),
    "top removed": (_top_removed, (0.1, 0.2, 0.3), "{:.0%} of rows"),
    "bottom removed": (_bottom_removed, (0.2, 0.35, 0.5), "{:.0%} of rows"),
    "more tissue above": (_more_above, (0.25, 0.5, 1.0), "+{:.0%} above the band"),
}


def held_out(run: Path | None) -> tuple[Path, list]:
    """(int8 model, samples it never trained on): a run's int8 model and test split, or the bundled model and the
    test names in its model.json."""
    from quantization.data import load_dl_track_apo
    from quantization.run_data import split_samples
    from quantization.runs import int8_model, model_paths

    if run is not None:
        paths = {n: p for n, p in model_paths(run).items() if p.is_file()}
        return paths[int8_model(paths)], split_samples(run, "test")[0]
    names = set(json.loads(DEFAULT_MODEL.with_name("model.json").read_text())["split"]["names"]["test"])
    return DEFAULT_MODEL, [s for s in load_dl_track_apo()[0] if s.name in names]


def whole_image(frame: np.ndarray) -> tuple[Box, bool]:
    """The ROI policy of a view that is the B-mode area already: all of it."""
    return Box.full(frame.shape), False


class _Score:
    def __init__(self) -> None:
        self.metrics, self.identity = SetMetrics(), IdentityTally()

    def add(self, name: str, pipeline: FramePipeline, grey: np.ndarray, labels: np.ndarray) -> None:
        result = pipeline(grey)
        scores = self.metrics.add(name, result.labels, labels)
        self.identity.add(name, band_identity(result.labels, labels, scores["dice"]["fascia"]), result.flags)

    def summary(self) -> dict:
        b = self.identity.summary()
        flagged = sum(bool(flags) for _, flags in self.identity.frames.values())
        unfamiliar = sum("unfamiliar" in flags for _, flags in self.identity.frames.values())
        return {
            "fascia_dice": self.metrics.summary()["micro"]["dice"]["fascia"],
            "wrong_share": b["wrong_share"],
            "wrong_good_share": b["wrong_good_share"],
            "flagged_share": flagged / b["frames"] if b["frames"] else None,
            "unfamiliar_share": unfamiliar / b["frames"] if b["frames"] else None,
            "frames": b["frames"],
        }


def stress(model: Path, samples: list, progress=print) -> dict:
    """Clean and every corruption at every severity, over the same images."""
    from quantization.data import read_image, read_labels

    pipeline = FramePipeline(model, whole_image, video=False)  # each corrupted view is the B-mode area itself
    views = []
    for s in samples:
        image, labels = read_image(s.image), read_labels(s)
        roi = detect_bmode_roi(image)
        views.append((s.name, roi.part(to_grey(image)).copy(), labels[roi.slices].copy()))

    def run(name: str, corrupt) -> dict:
        score = _Score()
        for image_name, grey, labels in views:
            score.add(image_name, pipeline, *corrupt(grey, labels))
        return score.summary()

    out = {"clean": run("clean", lambda g, lab: (g, lab))}
    progress(f"clean: fascia Dice {out['clean']['fascia_dice']:.3f} over {len(views)} images")
    for name, (fn, severities, label) in CORRUPTIONS.items():
        rows = []
        for s in severities:
            row = {"severity": s, "label": label.format(s), **run(name, lambda g, lab, fn=fn, s=s: fn(g, lab, s))}
            row["dice_ratio"] = row["fascia_dice"] / out["clean"]["fascia_dice"]
            rows.append(row)
            progress(f"{name} {row['label']}: fascia Dice {row['fascia_dice']:.3f}, wrong {row['wrong_share']:.1%}")
        out[name] = rows
    return out


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def table(result: dict) -> str:
    c = result["stress"]["clean"]
    lines = [
        "| corruption | severity | fascia Dice | x clean | wrong structure | wrong, reported good | flagged "
        "| unfamiliar |",
        "|---|---|---|---|---|---|---|---|",
        f"| clean | - | {c['fascia_dice']:.3f} | 1.00 | {_pct(c['wrong_share'])} | {_pct(c['wrong_good_share'])} | "
        f"{_pct(c['flagged_share'])} | {_pct(c.get('unfamiliar_share'))} |",
    ]
    for name in CORRUPTIONS:
        for r in result["stress"][name]:
            lines.append(
                f"| {name} | {r['label']} | {r['fascia_dice']:.3f} | {r['dice_ratio']:.2f} | {_pct(r['wrong_share'])} "
                f"| {_pct(r['wrong_good_share'])} | {_pct(r['flagged_share'])} | {_pct(r.get('unfamiliar_share'))} |"
            )
    return "\n".join(lines)


def figure(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    clean = result["stress"]["clean"]
    for name in CORRUPTIONS:
        rows = result["stress"][name]
        axes[0].plot([0, 1, 2, 3], [clean["fascia_dice"], *(r["fascia_dice"] for r in rows)], marker="o", label=name)
        axes[1].plot([0, 1, 2, 3], [clean["wrong_share"], *(r["wrong_share"] for r in rows)], marker="o", label=name)
    for ax, title in zip(axes, ("fascia Dice", "wrong-structure frames")):
        ax.set_xticks([0, 1, 2, 3], ["clean", "1", "2", "3"])
        ax.set_xlabel("severity")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{Path(result['model']).name}: {result['images']} held-out images, int8 on the on-device path")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a run directory (its int8 model and test split); default: bundled model")
    p.add_argument("--limit", type=int, help="only the first N held-out images")
    p.add_argument("--note", default="", help="a line to keep with the result")
    args = p.parse_args(argv)
    model, samples = held_out(args.run)
    samples = samples[: args.limit] if args.limit else samples
    t0 = time.perf_counter()
    result = {"machine": machine_info(), "model": str(model), "run": str(args.run or ""), "images": len(samples)}
    result["note"] = args.note
    result["stress"] = stress(model, samples)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    picture = picture_path("stress")
    figure(result, picture)
    intro = (
        f"Model `{model}`{f' (run `{args.run}`)' if args.run else ''}, {len(samples)} held-out images; each corrupted "
        "B-mode area (labels moved with it) through the on-device `FramePipeline`. Wrong structure: the image's "
        "fascia Dice under 0.3 or its band centre further off than the band is thick. "
        f"![Dice and wrong-structure rate per severity]({PICTURES}/{picture.name})"
    )
    face, log = keep_run(result, "stress", HEAD, table(result), intro=intro)
    print(table(result))
    print(f"wrote {face} and {picture}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
