"""The rule that picks the shipped model, on the evidence the pipeline writes."""

import json

import pytest

from quantization.ship_rule import Evidence, checks, table


def _write(tmp_path, name, holdout_dice=0.81, wrong=0.005, wrong_good=0.001, seeds=3, test_dice=0.89, test_wrong=0,
           top=0.76, above=0.84, stress_wrong=0.05):  # fmt: skip
    d = tmp_path / name
    d.mkdir()
    stat = lambda v, n=seeds: {"mean": v, "sd": 0.0, "n": n}  # noqa: E731
    direction = {"fascia Dice": stat(holdout_dice), "wrong-structure frames": stat(wrong),
                 "wrong, reported good": stat(wrong_good)}  # fmt: skip
    (d / "holdouts.json").write_text(json.dumps({"runs": [], "directions": {
        "512x512": direction, "660x556": direction, "mean": {**direction}}}))  # fmt: skip
    clean = {"fascia_dice": test_dice, "wrong_share": test_wrong / 59, "wrong_good_share": 0.0, "frames": 59}
    level = lambda r, w: [{"dice_ratio": r, "wrong_share": w}] * 3  # noqa: E731
    stress = {"clean": clean, "top removed": level(top, stress_wrong), "more tissue above": level(above, 0.1)}
    return Evidence.read(name, d / "holdouts.json", {"stress": stress})


def test_a_more_robust_candidate_within_the_margins_ships(tmp_path):
    current = _write(tmp_path, "current")
    candidate = _write(
        tmp_path, "candidate", holdout_dice=0.795, test_dice=0.882, top=0.97, above=0.9, stress_wrong=0.0
    )
    assert all(c.passed for c in checks(current, candidate))
    assert "Verdict: candidate ships." in table(current, candidate)


@pytest.mark.parametrize(
    "change, failed",
    [
        ({"holdout_dice": 0.785}, "layout hold-outs"),  # 0.025 below
        ({"test_dice": 0.875}, "test split"),
        ({"test_wrong": 1}, "wrong-structure frames"),
        ({"wrong_good": 0.002}, "reported good"),
        ({"top": 0.75}, "top removed"),
        ({"stress_wrong": 0.06}, "top removed"),  # its Dice better, but more wrong structures
        ({"seeds": 2}, "seeds"),
    ],
)
def test_each_criterion_can_refuse_the_candidate(tmp_path, change, failed):
    current = _write(tmp_path, "current")
    candidate = _write(tmp_path, "candidate", **{"top": 0.9, "above": 0.9, **change})
    refused = [c.rule for c in checks(current, candidate) if not c.passed]
    assert len(refused) == 1 and failed in refused[0]
    assert "does not ship" in table(current, candidate)


def test_unreadable_evidence_is_named(tmp_path):
    (tmp_path / "h.json").write_text("{")
    with pytest.raises(ValueError, match="h.json"):
        Evidence.read("x", tmp_path / "h.json", {})
    _write(tmp_path, "ok")
    with pytest.raises(ValueError, match="no row 'top removed'"):
        Evidence.read("x", tmp_path / "ok" / "holdouts.json", {"stress": {"clean": {}}})
