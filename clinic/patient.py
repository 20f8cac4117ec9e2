"""Patient and study fields from the user's small JSON: only what is given, nothing invented, each checked against
the DICOM value representation it is written as (`clinic.vr`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from clinic.vr import problem


def _vr(vr: str):
    return field(default=None, metadata={"vr": vr})


@dataclass(frozen=True)
class Patient:
    """What the user provides; every field may be empty (DICOM type 2 attributes are then written empty)."""

    patient_name: str | None = _vr("PN")  #: DICOM person name, "Family^Given"
    patient_id: str | None = _vr("LO")
    patient_birth_date: str | None = _vr("DA")  #: YYYYMMDD
    patient_sex: str | None = _vr("CS")  #: M, F or O
    study_id: str | None = _vr("SH")
    accession_number: str | None = _vr("SH")
    referring_physician_name: str | None = _vr("PN")
    study_description: str | None = _vr("LO")
    institution_name: str | None = _vr("LO")
    study_instance_uid: str | None = _vr("UI")  #: to file into an existing study

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (found := problem(value, f.metadata["vr"])):
                raise ValueError(f"{f.name} {found}")
        if self.patient_sex not in (None, "M", "F", "O"):
            raise ValueError("patient_sex must be M, F or O")

    @classmethod
    def load(cls, path: str | Path | None) -> Patient:
        """The fields of the JSON object in `path` (none for None); ValueError naming the file and the field."""
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_bytes())
        except ValueError as exc:  # not JSON, or not UTF-8
            raise ValueError(f"{path}: not a JSON file ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of patient / study fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {unknown}; known: {sorted(known)}")
        wrong = sorted(k for k, v in data.items() if v is not None and not isinstance(v, str))
        if wrong:
            raise ValueError(f"{path}: {', '.join(wrong)} must be text (a JSON string) or null")
        values = {k: v.strip() or None for k, v in data.items() if v is not None}
        if values.get("patient_birth_date"):
            values["patient_birth_date"] = values["patient_birth_date"].replace("-", "")
        if values.get("patient_sex"):
            values["patient_sex"] = values["patient_sex"].upper()
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
