"""The report's plain words: the model's accuracy caveats (each flag's words: `edge.measurement.flags`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import edge

MODELS = Path(edge.__file__).resolve().parent / "models"


def caveats(models: Path = MODELS) -> list[str]:
    """The model card's accuracy caveats, as sentences for a clinician (numbers read from the bundled model files)."""
    out = [
        "tlfseg is a research prototype, not a medical device: its numbers support, and do not replace, the "
        "judgement of the person who took the scan.",
        "No public thoracolumbar fascia image set exists: the model learnt from 395 ultrasound images of lower-limb "
        "muscle (the aponeurosis, a similar bright layered band), not from the lower back.",
    ]
    meta = json.loads((models / "model.json").read_text()) if (models / "model.json").is_file() else {}
    test = meta.get("evaluation", {})
    per_image = test.get("models", {}).get("qat_int8", {}).get("native_per_image_mean", {})
    if per_image.get("fascia_dice") is not None:
        out.append(
            f"On {test.get('images', 'its')} test images it had never seen, the outline it drew for the band "
            f"overlapped the expert's by {per_image['fascia_dice']:.0%} on average (Dice score)."
        )
    card = (models / "MODEL_CARD.md").read_text() if (models / "MODEL_CARD.md").is_file() else ""
    found = re.search(r"QAT int8 median ([\d.]+) px, 90th percentile ([\d.]+) px", card)
    if found:
        out.append(
            f"Its thickness differed from the expert's by {found[1]} pixels for a typical image and by up to "
            f"{found[2]} pixels for 9 images in 10; the calibration below turns pixels into millimetres."
        )
    out.append(
        "Frames the runtime flagged (the reasons are listed for each side) are left out of the medians. "
        "A difference smaller than the spread (IQR) between frames of one recording is not a change."
    )
    return out
