"""benchmarks/pareto.py: test-split rows, seed spread and the validation-split lever table from run folders."""

import json
from pathlib import Path

from benchmarks import pareto


def _model(dice: float, miou: float) -> dict:
    return {
        "native": {"micro": {"dice": {"fascia": dice}, "mean_iou": miou, "accuracy": 0.99}},
        "latency_ms": {"inference": 3.0},
        "size_bytes": 530_000,
        "thickness_error_px": {"median": 1.0, "p90": 4.0},
    }


def _run(root: Path, name: str, seed: int, split: str, dice: float, **cfg) -> None:
    run = root / name
    run.mkdir()
    config = {"base_filters": 8, "stem": 2, "input_size": [384, 192], "seed": seed, "epochs": 100, **cfg}
    (run / "config.json").write_text(json.dumps(config))
    evaluation = {
        "images": 60,
        "machine": "test CPU",
        "models": {"float32": _model(dice, 0.9), "qat_int8": _model(dice, 0.9)},
    }
    if split != "none":  # "none": a run never evaluated (a teacher)
        name = "evaluation.json" if split == "test" else "evaluation_val.json"
        (run / name).write_text(json.dumps(evaluation))


def test_tables_from_run_folders(tmp_path):
    _run(tmp_path, "a", 0, "test", 0.85, augment=True)
    _run(tmp_path, "b", 1, "test", 0.81, augment=True)
    _run(tmp_path, "h1", 0, "test", 0.82, augment=True, holdout="512x512")  # one scanner held out, run twice
    _run(tmp_path, "h2", 0, "test", 0.80, augment=True, holdout="512x512")
    _run(
        tmp_path,
        "lever",
        0,
        "val",
        0.87,
        augment=True,
        schedule="cosine",
        dice_weight=0.5,
        warp=True,
        teacher="runs/big",
    )
    for seed, dice in ((0, 0.84), (1, 0.82)):  # students of each seed's own teacher: one configuration
        _run(tmp_path, f"teacher{seed}", seed, "none", 0.0, augment=True)
        _run(
            tmp_path,
            f"student{seed}",
            seed,
            "test",
            dice,
            augment=True,
            stem=4,
            teacher=str(tmp_path / f"teacher{seed}"),
        )
    out = tmp_path / "pareto.md"
    assert pareto.main([str(p) for p in sorted(tmp_path.iterdir())] + ["--out", str(out)]) == 0
    text = out.read_text()
    assert (
        "teacher U-Net w8 stem2 [100 ep, constant lr, augment] (0.5)), 2 runs, seeds [0, 1]: "
        "int8 fascia Dice 0.830 +- 0.014" in text
    )
    assert "2 runs, seeds [0, 1]: int8 fascia Dice 0.830 +- 0.028" in text  # the two seeds' spread
    assert "2 runs, seeds [0, 0]: int8 fascia Dice 0.810 +- 0.014" in text
    assert "(layout 512x512 held out, the same test images for every run)" in text
    levers = text.split("## Levers")[1]
    assert (
        "| lever |" in levers
        and "100 ep, cosine lr, augment, warp, dice 0.5, teacher big (0.5)" in levers
        and "| a |" not in levers
    )
    data = json.loads((tmp_path / "raw" / "pareto.json").read_text())
    assert [r["run"] for r in data["validation"]] == ["lever"] and len(data["test"]) == 6


def test_rows_of_runs_no_longer_on_disk_are_kept(tmp_path):
    """runs/ is scratch space: a later session's table keeps what an earlier one measured, and a run on disk
    replaces its own old row."""
    runs, out = tmp_path / "runs", tmp_path / "pareto.md"
    runs.mkdir()
    _run(runs, "old", 0, "test", 0.85, augment=True)
    _run(runs, "again", 1, "test", 0.70, augment=True)
    assert pareto.main([str(runs / "old"), str(runs / "again"), "--out", str(out)]) == 0
    for name in ("old", "again"):
        for f in (runs / name).iterdir():
            f.unlink()
        (runs / name).rmdir()
    (runs / "old").mkdir()  # retraining under the same name: no evaluation yet, the published row stays
    (runs / "old" / "config.json").write_text("{}")
    _run(runs, "again", 1, "test", 0.81, augment=True)
    _run(runs, "new", 2, "test", 0.83, augment=True)
    assert pareto.main([str(runs / "old"), str(runs / "again"), str(runs / "new"), "--out", str(out)]) == 0
    data = json.loads((tmp_path / "raw" / "pareto.json").read_text())
    dice = {r["run"]: r["int8_fascia_dice"] for r in data["test"]}
    assert dice == {"old": 0.85, "again": 0.81, "new": 0.83}
    assert "3 runs, seeds [0, 1, 2]: int8 fascia Dice 0.830 +- 0.020" in out.read_text()
    assert "| test CPU |" in out.read_text()
