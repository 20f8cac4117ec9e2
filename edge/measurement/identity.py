"""Is it the right band? A frame where the prediction marks another structure than the labelled band is a
*wrong-structure* frame: a wrong band is about as thick as the right one, so Dice at the edges and the thickness
error hide it. Counted per frame, with what the runtime's flags said about it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.measurement.flags import refuses
from edge.measurement.measure import fascia_runs

#: below this per-image fascia Dice the prediction is not the labelled band
WRONG_DICE = 0.3


@dataclass(frozen=True)
class BandIdentity:
    """One frame's prediction against its labelled band."""

    dice: float  #: the frame's own fascia Dice
    depth_error_px: float | None  #: median over the columns where both have a band of |predicted - labelled centre row|
    thickness_px: float  #: the labelled band's median vertical thickness

    @property
    def wrong(self) -> bool:
        """Dice < `WRONG_DICE`, no predicted band in the labelled columns, or its centre off by more than the
        labelled band's thickness."""
        far = self.depth_error_px is None or self.depth_error_px > self.thickness_px
        return not self.dice >= WRONG_DICE or far


def band_identity(pred: np.ndarray, labels: np.ndarray, dice: float) -> BandIdentity | None:
    """`pred` against `labels` (native class maps), `dice` the frame's fascia Dice; None where nothing is labelled."""
    truth, found = fascia_runs(labels), fascia_runs(pred)
    labelled = truth.length > 0
    if not labelled.any():
        return None
    centre_true = truth.top[labelled] + (truth.length[labelled] - 1) / 2.0
    hit = found.length[labelled] > 0
    error = None
    if hit.any():  # column by column: a slanted band found on part of its width is still at the right depth
        centre_found = found.top[labelled][hit] + (found.length[labelled][hit] - 1) / 2.0
        error = float(np.median(np.abs(centre_found - centre_true[hit])))
    return BandIdentity(float(dice), error, float(np.median(truth.length[labelled])))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class IdentityTally:
    """Wrong-structure frames over a set: how many, how many of them the runtime reported as good (no refusing flag),
    how many right frames it refused, how many it measured in part (`partial`), the band-centre depth error, and what
    each flag buys (risk against coverage)."""

    frames: dict[str, tuple[BandIdentity, tuple[str, ...]]] = field(default_factory=dict)

    def add(self, name: str, identity: BandIdentity | None, flags: tuple[str, ...]) -> None:
        if identity is not None:
            self.frames[name] = (identity, tuple(flags))

    def summary(self) -> dict:
        n = len(self.frames)
        wrong = [name for name, (i, _) in self.frames.items() if i.wrong]
        wrong_good = [name for name in wrong if not refuses(self.frames[name][1])]
        right = n - len(wrong)
        right_flagged = [name for name, (i, f) in self.frames.items() if not i.wrong and refuses(f)]
        partial = [name for name, (_, f) in self.frames.items() if "partial" in f and not refuses(f)]
        errors = np.array([i.depth_error_px for i, _ in self.frames.values() if i.depth_error_px is not None])
        return {
            "frames": n,
            "wrong": len(wrong),
            "wrong_share": _share(len(wrong), n),
            "wrong_good": len(wrong_good),
            "wrong_good_share": _share(len(wrong_good), n),
            "right_flagged": len(right_flagged),
            "right_flagged_share": _share(len(right_flagged), right),
            "partial": len(partial),  #: reported good, measured on the band's winning piece
            "partial_wrong": sum(self.frames[name][0].wrong for name in partial),
            "depth_error_px": {
                "median": float(np.median(errors)) if errors.size else None,
                "p90": float(np.percentile(errors, 90)) if errors.size else None,
            },
            "wrong_frames": sorted(wrong),
            "wrong_good_frames": sorted(wrong_good),
            "risk_coverage": self.risk_coverage(),
        }

    def risk_coverage(self) -> list[dict]:
        """Per refusal rule (nothing refused, each flag alone, every flag as the runtime does): the share of frames
        still reported (coverage) and the share of wrong-structure frames among them (risk)."""
        seen = Counter(flag for _, flags in self.frames.values() for flag in flags if refuses((flag,)))
        rules = [("nothing refused", set()), *((f"{flag} alone", {flag}) for flag in sorted(seen))]
        rules.append(("every flag (the runtime)", set(seen)))
        rows = []
        for rule, refused in rules:
            kept = [i for i, flags in self.frames.values() if not refused & set(flags)]
            wrong = sum(i.wrong for i in kept)
            coverage = _share(len(kept), len(self.frames))
            rows.append({"rule": rule, "coverage": coverage, "risk": _share(wrong, len(kept))})
        return rows
