"""The rule that picks the shipped model: a candidate replaces the current model when, over its seeds, it is close
enough on the layout hold-outs and the test split, marks no more wrong structures, and is more robust to where the
band sits (the stress suite's `top removed` and `more tissue above` rows, which the hold-outs cannot see: their
bands sit where the training's do).

Each model's evidence is read from what the pipeline and the stress suite write: `holdouts.json` (`tlfseg holdouts`,
the model's recipe trained without each layout) and a stress run of the model on its test split
(`benchmarks/stress.py`: its `clean` row is the test split through the edge runtime, the other rows the corruptions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

#: most the candidate's mean fascia Dice over both layout hold-outs may lie below the current model's
HOLDOUT_DICE_MARGIN = 0.02
#: most its test-split fascia Dice may lie below
TEST_DICE_MARGIN = 0.01
#: the stress rows on which it must be better (where the band sits)
POSITION_ROWS = ("top removed", "more tissue above")


@dataclass(frozen=True)
class Evidence:
    """What the rule reads about one model."""

    name: str
    holdout_dice: float  #: mean over both directions of the per-direction mean over seeds
    holdout_wrong: float  #: share of wrong-structure frames, mean over both directions
    holdout_wrong_good: float  #: ... of those reported good
    seeds: int
    test_dice: float
    test_wrong: int
    test_wrong_good: int
    stress: dict[str, tuple[float, float]]  #: row -> (mean Dice ratio to clean, mean wrong-structure share)

    @classmethod
    def read(cls, name: str, holdouts: Path, stress: dict) -> Evidence:
        """From `holdouts.json` and a stress run on the model's test split (the object `benchmarks/stress.py`
        logs)."""
        h = _json(holdouts)["directions"]
        seeds = min(d["fascia Dice"]["n"] for k, d in h.items() if k != "mean")
        try:
            s = stress["stress"]
            clean, rows = s["clean"], {row: s[row] for row in POSITION_ROWS}
        except KeyError as exc:
            raise ValueError(f"{name}: the stress run has no row {exc}") from None
        frames = clean["frames"]
        m = h["mean"]
        return cls(
            name,
            m["fascia Dice"]["mean"],
            m["wrong-structure frames"]["mean"],
            m["wrong, reported good"]["mean"],
            seeds,
            clean["fascia_dice"],
            round(clean["wrong_share"] * frames),
            round(clean["wrong_good_share"] * frames),
            {row: _mean_row(levels) for row, levels in rows.items()},
        )


def _mean_row(levels: list[dict]) -> tuple[float, float]:
    """A stress row's (mean Dice ratio to clean, mean wrong-structure share) over its severities."""
    return (
        sum(v["dice_ratio"] for v in levels) / len(levels),
        sum(v["wrong_share"] for v in levels) / len(levels),
    )


@dataclass(frozen=True)
class Check:
    rule: str
    current: str
    candidate: str
    passed: bool


def _json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def checks(current: Evidence, candidate: Evidence) -> list[Check]:
    """The rule, criterion by criterion; the candidate ships when every one passes."""
    c, n = current, candidate
    out = [
        Check(
            "seeds >= 3 (the candidate's hold-outs)",
            str(c.seeds),
            str(n.seeds),
            n.seeds >= 3,
        ),
        Check(
            f"layout hold-outs, mean fascia Dice at most {HOLDOUT_DICE_MARGIN} below",
            f"{c.holdout_dice:.3f}",
            f"{n.holdout_dice:.3f}",
            n.holdout_dice >= c.holdout_dice - HOLDOUT_DICE_MARGIN,
        ),
        Check(
            f"test split, fascia Dice at most {TEST_DICE_MARGIN} below",
            f"{c.test_dice:.3f}",
            f"{n.test_dice:.3f}",
            n.test_dice >= c.test_dice - TEST_DICE_MARGIN,
        ),
        Check(
            "wrong-structure frames no more (hold-outs' share; test split)",
            f"{c.holdout_wrong:.1%}; {c.test_wrong}",
            f"{n.holdout_wrong:.1%}; {n.test_wrong}",
            n.holdout_wrong <= c.holdout_wrong + 1e-9 and n.test_wrong <= c.test_wrong,
        ),
        Check(
            "wrong frames reported good no more (hold-outs' share; test split)",
            f"{c.holdout_wrong_good:.1%}; {c.test_wrong_good}",
            f"{n.holdout_wrong_good:.1%}; {n.test_wrong_good}",
            n.holdout_wrong_good <= c.holdout_wrong_good + 1e-9 and n.test_wrong_good <= c.test_wrong_good,
        ),
    ]
    for row in POSITION_ROWS:
        (cr, cw), (nr, nw) = c.stress[row], n.stress[row]
        out.append(
            Check(
                f"stress `{row}`: better (Dice ratio higher, wrong-structure share no higher)",
                f"x{cr:.2f}, {cw:.1%}",
                f"x{nr:.2f}, {nw:.1%}",
                nr > cr and nw <= cw + 1e-9,
            )
        )
    return out


def table(current: Evidence, candidate: Evidence) -> str:
    """The rule as a Markdown table, and the verdict."""
    rows = checks(current, candidate)
    lines = [
        f"| criterion | {current.name} (current) | {candidate.name} (candidate) | met |",
        "|---|---|---|---|",
        *(f"| {r.rule} | {r.current} | {r.candidate} | {'yes' if r.passed else '**no**'} |" for r in rows),
    ]
    ships = all(r.passed for r in rows)
    failed = [r.rule for r in rows if not r.passed]
    verdict = "ships" if ships else "does not ship: " + "; ".join(failed)
    return "\n".join(lines) + f"\n\nVerdict: {candidate.name} {verdict}.\n"
