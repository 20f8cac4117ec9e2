"""Leave one scanner layout out: one recipe trained without each layout in turn (and per seed), each scored on the
layout it never saw, through the on-device path; resumable, as every pipeline step is.

The runs live in ``RUN/<layout>-seed<N>/``; the summary (``RUN/holdouts.json``, ``RUN/holdouts.md``) pools them:
per direction, the mean over directions, and the spread over seeds.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

from quantization.config import QatConfig, TrainConfig, teacher_runs

#: the two layouts of the shared set that hold most of its images (512x512 grey, 660x556 colour)
LAYOUTS = ("512x512", "660x556")
#: what the summary reports of each run's int8 model: name -> (path into its evaluation, format)
COLUMNS = {
    "fascia Dice": (("native", "micro", "dice", "fascia"), "{:.3f}"),
    "mean IoU": (("native", "micro", "mean_iou"), "{:.3f}"),
    "wrong-structure frames": (("band_identity", "wrong_share"), "{:.1%}"),
    "wrong, reported good": (("band_identity", "wrong_good_share"), "{:.1%}"),
    "right, flagged": (("band_identity", "right_flagged_share"), "{:.1%}"),
    "band depth error p90 (px)": (("band_identity", "depth_error_px", "p90"), "{:.1f}"),
}


def run_dir(root: Path, layout: str, seed: int) -> Path:
    return root / f"{layout}-seed{seed}"


def direction_teachers(teacher: str | None, layout: str, seed: int) -> str | None:
    """`--teacher` for one direction: a teacher that is itself a hold-out root stands for its run of the same
    layout and seed (trained without the same layout, so it never saw what this run is scored on)."""
    runs = []
    for t in teacher_runs(teacher):
        mine = run_dir(t, layout, seed)
        if not mine.is_dir() and any(t.glob("*-seed*")):  # a hold-out root without this direction's run
            raise ValueError(f"the teacher {t} has no run {mine.name}: `tlfseg holdouts --run {t} --seeds {seed}`")
        runs.append(mine if mine.is_dir() else t)
    return ",".join(str(r) for r in runs) or None


def leave_layout_out(root: str | Path, cfg: TrainConfig, layouts, seeds, qat_cfg: QatConfig) -> dict:
    """Train and score `cfg` (QAT: `qat_cfg`) once per held-out layout and seed (skipping what is done), then
    summarise.

    A teacher given as a hold-out root distils its own run of each direction (`direction_teachers`)."""
    from quantization.pipeline import run

    root = Path(root)
    jobs = [(layout, seed) for seed in seeds for layout in layouts]
    for i, (layout, seed) in enumerate(jobs, 1):
        target = run_dir(root, layout, seed)
        print(f"=== holdout {i}/{len(jobs)}: without {layout}, seed {seed} -> {target}", flush=True)
        if (target / "evaluation.json").is_file():
            print("=== already evaluated", flush=True)
            continue
        teacher = direction_teachers(cfg.teacher, layout, seed)
        run(target, dataclasses.replace(cfg, holdout=layout, seed=seed, teacher=teacher), qat_cfg)
    return summarise(root, layouts, seeds)


def _value(evaluation: dict, path: tuple) -> float | None:
    from quantization.runs import int8_model

    model = evaluation["models"][int8_model(evaluation["models"])]
    for key in path:
        if not isinstance(model, dict) or key not in model:
            return None
        model = model[key]
    return model


def summarise(root: str | Path, layouts=LAYOUTS, seeds=(0,)) -> dict:
    """Per held-out layout and seed, each column of `COLUMNS`; writes holdouts.json and holdouts.md."""
    root = Path(root)
    rows = []
    for seed in seeds:
        for layout in layouts:
            evaluation = run_dir(root, layout, seed) / "evaluation.json"
            if evaluation.is_file():
                result = json.loads(evaluation.read_text())
                values = {name: _value(result, path) for name, (path, _) in COLUMNS.items()}
                rows.append({"layout": layout, "seed": seed, "images": result["images"], **values})
    summary = {"runs": rows, "directions": _directions(rows, layouts)}
    (root / "holdouts.json").write_text(json.dumps(summary, indent=1))
    (root / "holdouts.md").write_text(markdown(root, summary))
    print(markdown(root, summary), flush=True)
    return summary


def _directions(rows: list[dict], layouts) -> dict:
    """Per held-out layout: mean and spread over seeds; and their mean over the directions."""
    out = {}
    for layout in layouts:
        mine = [r for r in rows if r["layout"] == layout]
        if mine:
            out[layout] = {name: _spread([r[name] for r in mine]) for name in COLUMNS}
    if len(out) == len(layouts):
        out["mean"] = {name: _spread([out[layout][name]["mean"] for layout in layouts]) for name in COLUMNS}
    return out


def _spread(values: list) -> dict:
    known = [v for v in values if v is not None]
    if not known:
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": statistics.fmean(known), "sd": statistics.stdev(known) if len(known) > 1 else 0.0, "n": len(known)}


def _cell(value: float | None, fmt: str, sd: float | None = None) -> str:
    if value is None:
        return "-"
    return fmt.format(value) + (f" +- {fmt.format(sd)}" if sd else "")


def markdown(root: Path, summary: dict) -> str:
    head = "| held out | seed | images | " + " | ".join(COLUMNS) + " |"
    lines = [
        f"# Leave one scanner layout out: {root}",
        "",
        "Each run trained without the layout named, scored on all of its images (int8 model, on-device path).",
        "",
        head,
        "|---" * (3 + len(COLUMNS)) + "|",
    ]
    for r in summary["runs"]:
        cells = [_cell(r[name], fmt) for name, (_, fmt) in COLUMNS.items()]
        lines.append(f"| {r['layout']} | {r['seed']} | {r['images']} | " + " | ".join(cells) + " |")
    for key, stats in summary["directions"].items():
        cells = [_cell(stats[name]["mean"], fmt, stats[name]["sd"]) for name, (_, fmt) in COLUMNS.items()]
        label = "mean of both directions (+- between them)" if key == "mean" else f"{key}, over seeds"
        lines.append(f"| **{label}** | | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
