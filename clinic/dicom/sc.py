"""Key frames with their overlay as Secondary Capture images (highdicom)."""

from __future__ import annotations

import numpy as np
from highdicom import UID
from highdicom.sc import SCImage
from pydicom.dataset import Dataset

from clinic.dicom.context import CHARACTER_SET, MANUFACTURER, StudyContext

_LATERALITY = {"left": "L", "right": "R"}


def secondary_capture(
    picture_bgr: np.ndarray,
    ctx: StudyContext,
    series_uid: str,
    series_number: int,
    instance_number: int,
    mm_per_px: float | None,
    side: str | None,
    description: str,
) -> Dataset:
    """One RGB Secondary Capture of a key frame with its overlay (pixel spacing when calibrated; laterality L / R,
    or empty when the side is not known: type 2C, the fascia being a paired structure)."""
    rgb = np.ascontiguousarray(picture_bgr[..., ::-1])
    sc = SCImage(
        pixel_array=rgb,
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        study_instance_uid=ctx.study_instance_uid,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=UID(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        specific_character_set=CHARACTER_SET,
        pixel_spacing=(mm_per_px, mm_per_px) if mm_per_px else None,
        patient_orientation=("A", "F"),  # replaced below: highdicom wants one, the probe's is unknown
        **ctx.patient_kwargs(),
    )
    sc.PatientOrientation = None  # type 2: present and empty, i.e. unknown
    sc.Laterality = _LATERALITY.get(side or "")
    sc.SeriesDescription = f"tlfseg key frames, {side or 'side not given'}"
    sc.ImageComments = description[:10240]
    sc.Modality = "US"  # the modality the picture was captured from (PS3.3 C.8.6.1)
    sc.BurnedInAnnotation = "YES"  # the overlay draws numbers into the picture
    if ctx.patient.study_description:
        sc.StudyDescription = ctx.patient.study_description
    if ctx.patient.institution_name:
        sc.InstitutionName = ctx.patient.institution_name
    return sc
