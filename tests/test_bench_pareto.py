"""benchmarks/pareto.py: test-split rows, seed spread and the validation-split lever table from run folders."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import pareto  # noqa: E402


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
    name = "evaluation.json" if split == "test" else "evaluation_val.json"
    (run / name).write_text(json.dumps(evaluation))


def test_tables_from_run_folders(tmp_path):
    _run(tmp_path, "a", 0, "test", 0.85, augment=True)
    _run(tmp_path, "b", 1, "test", 0.81, augment=True)
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
    out = tmp_path / "pareto.md"
    assert pareto.main([str(p) for p in sorted(tmp_path.iterdir())] + ["--out", str(out)]) == 0
    text = out.read_text()
    assert "Dice 0.830 +- 0.028" in text  # the two seeds' spread
    levers = text.split("## Levers")[1]
    assert (
        "| lever |" in levers
        and "100 ep, cosine lr, augment, warp, dice 0.5, teacher big (0.5)" in levers
        and "| a |" not in levers
    )
    data = json.loads(out.with_suffix(".json").read_text())
    assert [r["run"] for r in data["validation"]] == ["lever"] and len(data["test"]) == 2
