"""UIDs that stay the same when the same thing is exported again: the visit's study, a side's tracked finding.

Derived as name-based UUIDs (UUID version 5, as DICOM UIDs under the 2.25 root: PS3.5 B.2) from what identifies
the thing: the patient (the patient file's ID, with name, birth date and institution where given) and the visit for
the study; the patient, the side and the finding site for the tracked finding. Without a patient ID nothing ties a
visit to its patient: the study is then derived from the recordings themselves (their start times and folders), and
a finding is tracked within that study only.
"""

from __future__ import annotations

import uuid

from highdicom import UID

from clinic.patient import Patient
from clinic.recording import Recording

_NAMESPACE = uuid.UUID("6f1d3c0e-5b7a-4c61-9a55-3e4f0a2d7b10")  #: tlfseg's own: no other software derives these


def derived_uid(*parts: str) -> str:
    """A UID determined by `parts` (the same parts, the same UID; any other parts, another one)."""
    return str(UID.from_uuid(str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))))


def patient_key(patient: Patient) -> tuple[str, ...] | None:
    """What identifies the patient across visits, or None without a patient ID."""
    if not patient.patient_id:
        return None
    p = patient
    return ("patient", p.patient_id, p.patient_name or "", p.patient_birth_date or "", p.institution_name or "")


def study_uid(patient: Patient, recordings: list[Recording]) -> str:
    """The patient file's `study_instance_uid`, else one derived from the patient and the visit, else (no patient
    ID) from the recordings."""
    if patient.study_instance_uid:
        return patient.study_instance_uid
    key = patient_key(patient)
    if key is not None:
        return derived_uid("study", *key, *sorted({r.visit for r in recordings}))
    return derived_uid("study", *sorted(f"{r.started}|{r.folder.resolve()}" for r in recordings))


def tracking(patient: Patient, side: str | None, site: str, study: str) -> tuple[str, str]:
    """(Tracking Identifier, Tracking UID) of the finding at `site` on `side`: the same for the same patient (or,
    without a patient ID, within the study `study`) at every export and visit."""
    owner = patient_key(patient) or ("study", study)
    identifier = f"{site}, {side or 'side not given'}"
    return identifier[:64], derived_uid("tracking", *owner, side or "", site)
