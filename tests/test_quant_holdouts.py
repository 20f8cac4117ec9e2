"""quantization.holdouts: the leave-one-layout-out summary, per direction, over seeds and over both directions."""

import json

import pytest

from quantization.holdouts import run_dir, summarise


def _evaluation(dice: float, wrong: float) -> dict:
    return {
        "images": 10,
        "models": {
            "float32": {"native": {"micro": {"dice": {"fascia": 0.99}, "mean_iou": 0.99}}},
            "qat_int8": {
                "native": {"micro": {"dice": {"fascia": dice}, "mean_iou": dice + 0.05}},
                "band_identity": {
                    "wrong_share": wrong,
                    "wrong_good_share": wrong / 2,
                    "right_flagged_share": 0.02,
                    "depth_error_px": {"p90": 3.0},
                },
            },
        },
    }


def test_summary_pools_seeds_and_directions(tmp_path):
    for (layout, seed), (dice, wrong) in {
        ("512x512", 0): (0.80, 0.10),
        ("512x512", 1): (0.84, 0.06),
        ("660x556", 0): (0.70, 0.20),
    }.items():
        folder = run_dir(tmp_path, layout, seed)
        folder.mkdir()
        (folder / "evaluation.json").write_text(json.dumps(_evaluation(dice, wrong)))
    summary = summarise(tmp_path, ("512x512", "660x556"), (0, 1))
    assert len(summary["runs"]) == 3  # the missing run is left out, not invented
    d = summary["directions"]
    assert d["512x512"]["fascia Dice"]["mean"] == pytest.approx(0.82) and d["512x512"]["fascia Dice"]["n"] == 2
    assert d["660x556"]["fascia Dice"] == {"mean": pytest.approx(0.70), "sd": 0.0, "n": 1}
    assert d["mean"]["fascia Dice"]["mean"] == pytest.approx(0.76)  # the mean of the two directions
    assert d["mean"]["wrong-structure frames"]["mean"] == pytest.approx(0.14)
    md = (tmp_path / "holdouts.md").read_text()
    assert "| 660x556 | 0 | 10 | 0.700 |" in md and "mean of both directions (+- between them)" in md
