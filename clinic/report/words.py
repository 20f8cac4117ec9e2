"""The report's caveats in plain words, their numbers read from the bundled model's `model.json` (each flag's words:
`edge.measurement.flags`). A number the file lacks is said to be missing, never left out silently."""

from __future__ import annotations

import json
from pathlib import Path

import edge

MODELS = Path(edge.__file__).resolve().parent / "models"
SHIPPED = "qat_int8"  #: the evaluated model that ships (`tlfseg_unet_int8.tflite`)
ECHOGENICITY = (
    "Echogenicity is the grey level of the picture: it depends on the scanner's gain, depth and settings, so compare "
    "it only between recordings made with the same scanner settings."
)


def pixels(n: float) -> str:
    return f"{n:g} pixel" + ("" if n == 1 else "s")


def caveats(models: Path = MODELS) -> list[str]:
    """The model's accuracy caveats, as sentences for a clinician."""
    meta = json.loads((models / "model.json").read_text()) if (models / "model.json").is_file() else {}
    test = meta.get("evaluation", {})
    shipped = test.get("models", {}).get(SHIPPED, {})
    images = test.get("images", "its")
    dice = shipped.get("native_per_image_mean", {}).get("fascia_dice")
    error = shipped.get("frame_thickness_error_px") or {}
    out = [
        "tlfseg is a research prototype, not a medical device: its numbers support, and do not replace, the "
        "judgement of the person who took the scan.",
        "No public thoracolumbar fascia image set exists: the model learnt from 395 ultrasound images of lower-limb "
        "muscle (the aponeurosis, a similar bright layered band), not from the lower back.",
        f"On {images} test images it had never seen, the outline it drew for the band overlapped the expert's by "
        f"{dice:.0%} on average (Dice score)."
        if dice is not None
        else "How far its outline agrees with an expert's is not recorded with this model (model.json).",
        f"Its thickness differed from the expert's by {pixels(error['median'])} for a typical image and by up to "
        f"{pixels(error['p90'])} for 9 images in 10; the calibration below turns pixels into millimetres."
        if error.get("median") is not None and error.get("p90") is not None
        else "How far its thickness differs from an expert's is not recorded with this model (model.json).",
        "Frames the runtime flagged (the reasons are listed for each side) are left out of the medians.",
        "A difference smaller than the spread (IQR) between the frames of one recording is not a change.",
        ECHOGENICITY,
    ]
    return out
