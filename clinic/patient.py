"""Patient and study fields from the user's small JSON: only what is given, nothing invented."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Patient:
    """What the user provides; every field may be empty (DICOM type 2 attributes are then written empty)."""

    patient_name: str | None = None  #: DICOM person name, "Family^Given"
    patient_id: str | None = None
    patient_birth_date: str | None = None  #: YYYYMMDD or YYYY-MM-DD
    patient_sex: str | None = None  #: M, F or O
    study_id: str | None = None
    accession_number: str | None = None
    referring_physician_name: str | None = None
    study_description: str | None = None
    institution_name: str | None = None
    study_instance_uid: str | None = None  #: to file into an existing study

    @classmethod
    def load(cls, path: str | Path | None) -> Patient:
        if path is None:
            return cls()
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of patient / study fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {unknown}; known: {sorted(known)}")
        values = {k: (str(v).strip() or None) if v is not None else None for k, v in data.items()}
        if values.get("patient_birth_date"):
            values["patient_birth_date"] = values["patient_birth_date"].replace("-", "")
            if len(values["patient_birth_date"]) != 8 or not values["patient_birth_date"].isdigit():
                raise ValueError(f"{path}: patient_birth_date must be YYYYMMDD or YYYY-MM-DD")
        if values.get("patient_sex"):
            values["patient_sex"] = values["patient_sex"].upper()
            if values["patient_sex"] not in ("M", "F", "O"):
                raise ValueError(f"{path}: patient_sex must be M, F or O")
        return cls(**values)
