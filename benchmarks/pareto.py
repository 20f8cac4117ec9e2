"""Accuracy against speed for every trained run: Markdown tables from runs/*/evaluation*.json, their rows as JSON.

    python benchmarks/pareto.py [RUN_DIR ...] [--out benchmarks/results/pareto.md]   # rows: results/raw/pareto.json

Each row is a run evaluated by `tlfseg evaluate` on its test split, which is either a seeded random split
or a whole scanner layout held out (`--holdout`). Runs that differ only in their seed are also summarised
as mean and spread. Runs evaluated on their validation split (`tlfseg evaluate --split val`) fill a second
table: the training levers, compared where model selection belongs. Latency is the evaluation's median
inference time, 1 thread, on the machine named; `benchmarks/bench_models.py` times models against each other
in one interleaved run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results_log import RESULTS, raw_link, raw_path  # noqa: E402
from quantization.runs import int8_model  # noqa: E402


def architecture(cfg: dict) -> str:
    return f"U-Net w{cfg['base_filters']}" + (f" stem{cfg['stem']}" if cfg.get("stem", 1) > 1 else "")


def teacher(cfg: dict) -> str:
    """The teacher by what it is (its network and recipe, from its run directory while that exists), so that
    students of different seeds' teachers group together."""
    run = Path(cfg["teacher"])
    if not run.is_absolute():
        run = ROOT / run
    if not (run / "config.json").is_file():
        return run.name
    taught = json.loads((run / "config.json").read_text())
    return f"{architecture(taught)} [{recipe(taught)}]"


def recipe(cfg: dict) -> str:
    """The training choices a lever changes, in words."""
    parts = [f"{cfg['epochs']} ep", cfg.get("schedule", "constant") + " lr"]
    parts += ["augment"] if cfg.get("augment") else []
    parts += ["warp"] if cfg.get("warp") else []
    parts += [f"rotate {cfg['rotate']:g} deg"] if cfg.get("rotate") else []
    parts += [f"depth crop {cfg['depth_crop']:g}"] if cfg.get("depth_crop") else []
    parts += [f"tissue above {cfg['tissue_above']:g}"] if cfg.get("tissue_above") else []
    parts += [f"stretch above {cfg['stretch_above']:g}"] if cfg.get("stretch_above") else []
    parts += [f"dice {cfg['dice_weight']:g}"] if cfg.get("dice_weight") else []
    parts += [f"teacher {teacher(cfg)} ({cfg.get('distill', 0.5):g})"] if cfg.get("teacher") else []
    return ", ".join(parts)


def _row(run: Path, evaluation_file: str = "evaluation.json") -> dict | None:
    evaluation, config = run / evaluation_file, run / "config.json"
    if not (evaluation.is_file() and config.is_file()):
        return None
    ev, cfg = json.loads(evaluation.read_text()), json.loads(config.read_text())
    models = ev["models"]
    if int8_model(models) is None:
        return None
    int8 = models[int8_model(models)]
    state = json.loads((run / "float.state.json").read_text()) if (run / "float.state.json").is_file() else {}
    h, w = cfg["input_size"]
    return {
        "run": run.name,
        "architecture": architecture(cfg),
        "input": f"{h}x{w}",
        "seed": cfg["seed"],
        "test": f"layout {cfg['holdout']} held out" if cfg.get("holdout") else f"random split (seed {cfg['seed']})",
        "recipe": recipe(cfg),
        "images": ev["images"],
        "float_fascia_dice": models["float32"]["native"]["micro"]["dice"]["fascia"] if "float32" in models else None,
        "float_mean_iou": models["float32"]["native"]["micro"]["mean_iou"] if "float32" in models else None,
        "int8_fascia_dice": int8["native"]["micro"]["dice"]["fascia"],
        "int8_mean_iou": int8["native"]["micro"]["mean_iou"],
        "int8_accuracy": int8["native"]["micro"]["accuracy"],
        "thickness_error_px": int8.get("thickness_error_px", {}),
        "frame_thickness_error_px": int8.get("frame_thickness_error_px", {}),
        "int8_inference_ms": int8["latency_ms"].get("inference"),
        "float_inference_ms": models.get("float32", {}).get("latency_ms", {}).get("inference"),
        "int8_size_mb": int8["size_bytes"] / 1e6,
        "float_epochs": state.get("epoch"),
        "machine": ev.get("machine"),
    }


def group_key(r: dict) -> tuple:
    """Runs that differ only in their seed: same network, input, recipe and kind of test set."""
    return r["architecture"], r["input"], r["recipe"], r["test"] if r["test"].startswith("layout") else "random"


def kept_rows(previous: Path, part: str, fresh: list[dict]) -> list[dict]:
    """Rows of the last published table for runs that gave no `fresh` row (runs/ is scratch space, not committed;
    a run being retrained has no evaluation yet): the table accumulates across sessions instead of forgetting
    what was measured, and a run evaluated again replaces its own row."""
    if not previous.is_file():
        return []
    present = {r["run"] for r in fresh}
    return [r for r in json.loads(previous.read_text()).get(part, []) if r["run"] not in present]


def _f(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _thickness(key: str):
    """Cell: median / p90 of one thickness error (rows kept from older tables may lack the per-image one)."""

    def cell(r: dict) -> str:
        err = r.get(key) or {}
        return f"{_f(err.get('median'), 1)} / {_f(err.get('p90'), 1)}"

    return cell


#: (header, cell) per column; the test-split table and the validation-split lever table
_RUN = [("run", lambda r: r["run"]), ("network", lambda r: r["architecture"]), ("input", lambda r: r["input"])]
TEST_COLUMNS = [
    *_RUN,
    ("recipe", lambda r: r["recipe"]),
    ("test set", lambda r: r["test"]),
    ("images", lambda r: str(r["images"])),
    ("float32 fascia Dice", lambda r: _f(r["float_fascia_dice"])),
    ("int8 fascia Dice", lambda r: _f(r["int8_fascia_dice"])),
    ("int8 mean IoU", lambda r: _f(r["int8_mean_iou"])),
    ("thickness error p50 / p90 (px), columns", _thickness("thickness_error_px")),
    ("per image", _thickness("frame_thickness_error_px")),
    ("int8 / float32 inference (ms)", lambda r: f"{_f(r['int8_inference_ms'], 1)} / {_f(r['float_inference_ms'], 1)}"),
    ("int8 size (MB)", lambda r: f"{r['int8_size_mb']:.2f}"),
    ("epochs", lambda r: str(r["float_epochs"] or "-")),
    ("timed on", lambda r: r["machine"] or "-"),
]
LEVER_COLUMNS = [
    *_RUN,
    ("recipe", lambda r: r["recipe"]),
    ("images", lambda r: str(r["images"])),
    ("float32 fascia Dice", lambda r: _f(r["float_fascia_dice"])),
    ("float32 mean IoU", lambda r: _f(r["float_mean_iou"])),
    ("int8 fascia Dice", lambda r: _f(r["int8_fascia_dice"])),
    ("int8 mean IoU", lambda r: _f(r["int8_mean_iou"])),
    ("thickness error p50 / p90 (px), columns", _thickness("thickness_error_px")),
    ("per image", _thickness("frame_thickness_error_px")),
    ("epochs run", lambda r: str(r["float_epochs"] or "-")),
]


def table(rows: list[dict], columns: list = TEST_COLUMNS) -> str:
    out = ["| " + " | ".join(head for head, _ in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(cell(r) for _, cell in columns) + " |" for r in rows]
    return "\n".join(out)


def seed_summary(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(group_key(r), []).append(r)
    lines = []
    for group in groups.values():
        if len(group) < 2:
            continue
        dice = [r["int8_fascia_dice"] for r in group]
        miou = [r["int8_mean_iou"] for r in group]
        test = group[0]["test"]
        held_out = test.startswith("layout")
        where = f"{test}, the same test images for every run" if held_out else "each seed its own random split"
        lines.append(
            f"- {group[0]['architecture']} {group[0]['input']} ({group[0]['recipe']}), {len(group)} runs, seeds "
            f"{sorted(r['seed'] for r in group)}: int8 fascia "
            f"Dice {statistics.mean(dice):.3f} +- {statistics.stdev(dice):.3f} (min {min(dice):.3f}), mean IoU "
            f"{statistics.mean(miou):.3f} +- {statistics.stdev(miou):.3f} ({where})"
        )
    return "\n".join(lines) or "- no configuration has more than one seed yet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run directories (default: runs/*)")
    parser.add_argument("--out", type=Path, default=RESULTS / "pareto.md")
    args = parser.parse_args(argv)
    runs = args.runs or sorted((ROOT / "runs").glob("*/"))
    rows = [r for r in (_row(run) for run in runs) if r is not None]
    levers = [r for r in (_row(run, "evaluation_val.json") for run in runs) if r is not None]
    raw = raw_path(args.out)
    rows += kept_rows(raw, "test", rows)
    levers += kept_rows(raw, "validation", levers)
    if not rows:
        parser.error("no evaluated runs found (run tlfseg pipeline / tlfseg evaluate first)")
    rows.sort(key=lambda r: (r["architecture"], r["input"], r["int8_inference_ms"] or 0))
    levers.sort(key=lambda r: (group_key(r)[:2], r["float_fascia_dice"] or 0))
    machines = sorted({r["machine"] for r in rows if r["machine"]})
    text = "\n".join(
        [
            "# Accuracy against speed: every evaluated run",
            "",
            f"Generated by `python benchmarks/pareto.py` from each run's `evaluation.json` (native resolution, "
            f"through the edge runtime, images the run never trained on); rows of runs with no evaluation on disk "
            f"now are kept from the previous table. Latency: median inference, 1 thread, on the CPU the row names "
            f"({'; '.join(machines)}), under whatever load the evaluation ran with: compare latencies only "
            f"between rows timed on one CPU, or models in one interleaved run with `benchmarks/bench_models.py`. "
            f"The rows as data: {raw_link(raw)}.",
            "",
            table(rows),
            "",
            "Seed spread:",
            "",
            seed_summary(rows),
            "",
            "## Levers, on the validation split (model selection; the test splits stay untouched until the end)",
            "",
            "Same seed-0 split and network for every row; each row changes the training recipe. Evaluated by "
            "`tlfseg evaluate --split val` through the same runtime. int8: the QAT model where the run has one, "
            "else post-training int8.",
            "",
            table(levers, LEVER_COLUMNS) if levers else "- no run evaluated on its validation split yet",
            "",
        ]
    )
    args.out.write_text(text)
    raw.write_text(json.dumps({"test": rows, "validation": levers}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
