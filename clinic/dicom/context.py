"""What every object of one export shares: study UID and date, patient fields, the equipment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clinic.dicom.identity import study_uid
from clinic.patient import Patient
from clinic.recording import STARTED, Recording

MANUFACTURER = "tlfseg"
#: every object's text is UTF-8, whatever the patient's name is written in (PS3.3 C.12.1.1.2: Unicode in UTF-8)
CHARACTER_SET = "ISO_IR 192"


def study_datetime(started: str | None) -> tuple[str | None, str | None]:
    """('YYYYMMDD', 'HHMMSS') of a recording's start time (summary.json), or (None, None) when unknown."""
    if not started:
        return None, None
    when = dt.datetime.strptime(started, STARTED)
    return when.strftime("%Y%m%d"), when.strftime("%H%M%S")


@dataclass(frozen=True)
class StudyContext:
    patient: Patient
    study_instance_uid: str
    study_date: str | None
    study_time: str | None

    @classmethod
    def create(cls, patient: Patient, recordings: list[Recording]) -> StudyContext:
        """The study of a visit's recordings: its UID (`identity.study_uid`), date and time (the first start)."""
        date, time = study_datetime(recordings[0].started)
        return cls(patient, study_uid(patient, recordings), date, time)

    def patient_kwargs(self) -> dict:
        p = self.patient
        return {
            "patient_id": p.patient_id,
            "patient_name": p.patient_name,
            "patient_birth_date": p.patient_birth_date,
            "patient_sex": p.patient_sex,
            "accession_number": p.accession_number,
            "study_id": p.study_id,
            "study_date": self.study_date,
            "study_time": self.study_time,
            "referring_physician_name": p.referring_physician_name,
        }
