"""Key frames for a clinician: the recorded overlay picture with the live readings replaced by the clinical caption.

The live panel shows what the operator and the engineer need while scanning (frame rate, latency, coverage,
confidence, a per-frame spread also called IQR); a key frame in a report or an archive carries the fascia's outline
and its thickness alone. The recording logs where the panel was drawn (`panel` in `frames.jsonl`); it is painted
over with the caption. A recording made before that was logged keeps its pictures as recorded.
"""

from __future__ import annotations

import cv2
import numpy as np

from clinic.recording import Recording
from edge.core.roi import Box

_FONT, _SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.55
BACKGROUND = (30, 30, 30)  #: BGR of the caption's panel


def caption(frame: dict, unit: str) -> str:
    """`fascia 1.29 mm` for a good frame, else that it has no measurement."""
    value = frame.get(f"thickness_{unit}")
    if not frame.get("good") or value is None:
        return "no measurement (frame flagged)"
    return f"fascia {value:.2f} mm" if unit == "mm" else f"fascia {value:.1f} px"


def clinical(picture: np.ndarray, frame: dict, unit: str) -> np.ndarray:
    """`picture` (BGR, as recorded) with its live panel replaced by `caption`."""
    if "panel" not in frame:
        return picture
    out, panel = picture.copy(), Box.parse(frame["panel"])
    out[panel.slices] = BACKGROUND
    cv2.putText(out, caption(frame, unit), (panel.x + 8, panel.y + 20), _FONT, _SCALE, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def key_stills(rec: Recording, indices: list[int]) -> dict[int, np.ndarray]:
    """The clinical pictures of the frames `indices` (those the overlay video has)."""
    return {i: clinical(p, rec.log.record(i), rec.log.unit) for i, p in rec.pictures(indices).items()}
