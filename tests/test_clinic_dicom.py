"""`tlfseg export --dicom`: a real recording as Secondary Capture + TID 1500 SR, read back with pydicom."""

import json

import pydicom
import pytest
from clinic_support import dciodvfy, flag_frames, record, sr_items, sr_numbers

from clinic.dicom.export import export_dicom
from clinic.dicom.validate import iod_problems
from clinic.patient import Patient
from clinic.recording import Recording

SC = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


@pytest.fixture
def exported(tmp_path, recordings, clinic_cli):
    patient = tmp_path / "patient.json"
    patient.write_text(
        json.dumps({"patient_name": "Doe^Jane", "patient_id": "P-007", "patient_birth_date": "1980-02-29"})
    )
    out = tmp_path / "dicom"
    argv = ["export", "--dicom", str(out), "--patient", str(patient), "--side", "left", "--side", "right"]
    code = clinic_cli([*argv, str(recordings / "visit2-left"), str(recordings / "visit2-right")])
    assert code == 0
    return out, [pydicom.dcmread(p) for p in sorted(out.glob("*.dcm"))]


def test_export_writes_sc_per_key_frame_and_one_sr(exported, recordings):
    _, files = exported
    scs = [d for d in files if d.SOPClassUID == SC]
    srs = [d for d in files if d.SOPClassUID == COMPREHENSIVE_SR]
    assert len(scs) == 6 and len(srs) == 1
    assert len({d.StudyInstanceUID for d in files}) == 1
    assert len({d.SOPInstanceUID for d in files}) == len(files)
    assert len({d.SeriesInstanceUID for d in scs}) == 2
    assert all(pydicom.uid.UID(d.SOPInstanceUID).is_valid for d in files)
    for d in files:
        assert iod_problems(d) == [], d.SOPClassUID
        assert (str(d.PatientName), d.PatientID, d.PatientBirthDate) == ("Doe^Jane", "P-007", "19800229")
        assert d.PatientSex in (None, "") and d.AccessionNumber in (None, "")  # not given: empty, not invented
    left = Recording.load(recordings / "visit2-left")
    assert scs[0].StudyDate == left.started[:10].replace("-", "")
    assert [d.Laterality for d in scs] == ["L"] * 3 + ["R"] * 3
    assert [float(v) for v in scs[0].PixelSpacing] == [0.1, 0.1]
    assert scs[0].pixel_array.shape == (480, 640, 3) and scs[0].pixel_array.mean() > 5
    referenced = {
        r.ReferencedSOPInstanceUID
        for r in srs[0].CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence
    }
    assert referenced <= {d.SOPInstanceUID for d in scs}
    assert [i.CodingSchemeDesignator for i in srs[0].CodingSchemeIdentificationSequence] == ["99TLFSEG"]


def test_files_pass_the_dicom3tools_validators(exported):
    out, _ = exported
    assert dciodvfy(sorted(out.glob("*.dcm"))) == []


def test_the_validators_find_a_broken_file(exported, tmp_path):
    """The check above can fail: a type 2 attribute removed, a patient ID changed in one file of the study."""
    out, files = exported
    broken = files[0].copy()
    del broken.PatientName
    broken.PatientID = "SOMEONE-ELSE"
    broken.save_as(tmp_path / "broken.dcm")
    errors = dciodvfy([tmp_path / "broken.dcm", out / "SR.dcm"])
    assert any("PatientName" in e for e in errors) and any("Different PatientID" in e for e in errors)


def test_sr_measurements_equal_the_recording(exported, recordings):
    _, files = exported
    sr = next(d for d in files if d.SOPClassUID == COMPREHENSIVE_SR)
    left, right = Recording.load(recordings / "visit2-left"), Recording.load(recordings / "visit2-right")
    thickness = sr_numbers(sr, "Fascia thickness")
    assert [v for v, _ in thickness] == [left.thickness().median, right.thickness().median]
    assert {(u.CodeValue, u.CodingSchemeDesignator) for _, u in thickness} == {("mm", "UCUM")}
    assert 0.8 < thickness[0][0] < 2.0  # the phantom's band is about 12 px at 0.1 mm/px
    assert [v for v, _ in sr_numbers(sr, "Echogenicity")] == [left.echogenicity().median, right.echogenicity().median]
    assert [v for v, _ in sr_numbers(sr, "Frames measured")] == [len(left.good), len(right.good)]
    assert [v for v, _ in sr_numbers(sr, "Frames flagged")] == [left.flagged, right.flagged]
    names = [it.TextValue for p, it in sr_items(sr) if p[-1] == "Algorithm Name"]
    versions = {it.TextValue for p, it in sr_items(sr) if p[-1] == "Algorithm Version"}
    assert set(names) == {"tlfseg_unet_int8.tflite"} and versions == {"tlfseg 0.1.0"}
    sides = [it.ConceptCodeSequence[0].CodeMeaning for p, it in sr_items(sr) if p[-1] == "Laterality"]
    assert sides == ["Left", "Right"]


def test_flags_become_qualitative_evaluations(tmp_path):
    rec = tmp_path / "rec"
    record(rec, frames=4, mm_per_px=None)
    flag_frames(rec, slice(2, None), "jump")
    written = export_dicom([Recording.load(rec)], Patient(), tmp_path / "out")
    sr = pydicom.dcmread(written[-1])
    flags = [
        (p[-1], it.ConceptCodeSequence[0].CodeMeaning)
        for p, it in sr_items(sr)
        if it.ValueType == "CODE" and p[-1].startswith("Frame quality")
    ]
    assert flags == [("Frame quality flag: jump", "Present")]
    assert [v for v, _ in sr_numbers(sr, "Frames flagged")] == [2.0]
    thickness = sr_numbers(sr, "Fascia thickness")
    assert thickness and thickness[0][1].CodeValue == "{pixels}"  # uncalibrated: pixels, said so
    assert str(sr.PatientName) == "" and sr.PatientID in (None, "")


def test_patient_json_is_checked(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"patient_name": "A^B", "weight": 70}))
    with pytest.raises(ValueError, match="unknown field"):
        Patient.load(bad)
    bad.write_text(json.dumps({"patient_sex": "X"}))
    with pytest.raises(ValueError, match="patient_sex"):
        Patient.load(bad)
    assert Patient.load(None) == Patient()


def test_export_of_a_folder_that_is_no_recording(tmp_path, clinic_cli, capsys):
    assert clinic_cli(["export", "--dicom", str(tmp_path / "o"), str(tmp_path)]) == 1
    assert "is not a recording" in capsys.readouterr().err
