"""`tlfseg export --dicom`: a real recording as Secondary Capture + TID 1500 SR, read back with pydicom."""

import json
import re
import shutil
import subprocess

import pydicom
import pytest
from clinic_support import dciodvfy, dsr2html_text, flag_frames, record, sr_items, sr_numbers, tool

import clinic.dicom.export as export_module  # the module export_dicom reads (another test re-imports the package)
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
    assert [v for v, _ in thickness] == [left.log.thickness().median, right.log.thickness().median]
    assert {(u.CodeValue, u.CodingSchemeDesignator) for _, u in thickness} == {("mm", "UCUM")}
    assert 0.8 < thickness[0][0] < 2.0  # the phantom's band is about 12 px at 0.1 mm/px
    echo = [left.log.echogenicity().median, right.log.echogenicity().median]
    assert [v for v, _ in sr_numbers(sr, "Echogenicity")] == echo
    assert [v for v, _ in sr_numbers(sr, "Frames measured")] == [left.log.thickness().used, right.log.thickness().used]
    assert [v for v, _ in sr_numbers(sr, "Frames flagged")] == [left.log.flagged, right.log.flagged]
    names = [it.TextValue for p, it in sr_items(sr) if p[-1] == "Algorithm Name"]
    versions = {it.TextValue for p, it in sr_items(sr) if p[-1] == "Algorithm Version"}
    assert set(names) == {"tlfseg_unet_int8.tflite"} and versions == {"tlfseg 0.1.0"}
    sides = [it.ConceptCodeSequence[0].CodeMeaning for p, it in sr_items(sr) if p[-1] == "Laterality"]
    assert sides == ["Left", "Right"]


def test_flags_become_qualitative_evaluations(tmp_path):
    rec = tmp_path / "rec"
    record(rec, frames=4, mm_per_px=None)
    flag_frames(rec, slice(2, None), "jump")
    done = export_dicom([Recording.load(rec)], Patient(), tmp_path / "out")
    sr = pydicom.dcmread(done.files[-1])
    flags = [
        (p[-1], it.ConceptCodeSequence[0].CodeMeaning)
        for p, it in sr_items(sr)
        if it.ValueType == "CODE" and p[-1].startswith("Frame quality")
    ]
    assert flags == [("Frame quality flag: jump", "Present")]
    assert [v for v, _ in sr_numbers(sr, "Frames flagged")] == [2.0]
    assert done.warnings and "no patient_id" in done.warnings[0]
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


def _sc_and_sr(folder):
    files = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    return [d for d in files if d.SOPClassUID == SC], next(d for d in files if d.SOPClassUID == COMPREHENSIVE_SR)


@pytest.mark.parametrize(
    "name, side, patient",
    [
        ("visit2-left", None, {"patient_id": "P-1"}),  # calibrated, side from the folder, a patient
        ("pixels", None, None),  # uncalibrated, side unknown, no patient file
        ("pixels", "right", {"patient_name": "A^B"}),  # side given, a patient file without an ID
        ("visit2-right", None, None),
    ],
)
def test_every_kind_of_export_passes_dciodvfy(tmp_path, recordings, name, side, patient):
    """With or without side, patient file, calibration: no Error from dicom3tools, and the side empty when unknown."""
    rec = Recording.load(recordings / name, side)
    patient_file = None
    if patient is not None:
        patient_file = tmp_path / "p.json"
        patient_file.write_text(json.dumps(patient))
    done = export_dicom([rec], Patient.load(patient_file), tmp_path / "out")
    assert dciodvfy(done.files) == []
    scs, sr = _sc_and_sr(tmp_path / "out")
    assert {d.Laterality for d in scs} == {{"left": "L", "right": "R", None: ""}[rec.side]}
    assert "Laterality" in scs[0]  # type 2C: present, empty when the side is not known
    assert {d.SeriesDescription for d in scs} == {f"tlfseg key frames, {rec.side or 'side not given'}"}
    assert sr.SeriesDescription == "tlfseg fascia measurements"
    assert bool(done.warnings) == (not (patient or {}).get("patient_id"))


def test_own_check_finds_a_missing_laterality_and_the_export_fails(tmp_path, recordings, monkeypatch):
    """The in-process IOD check knows Laterality is required (the fascia is paired); an object failing it stops the
    export before any file is written."""
    done = export_dicom([Recording.load(recordings / "pixels")], Patient(), tmp_path / "good")
    sc = pydicom.dcmread(done.files[0])
    assert iod_problems(sc) == []
    del sc.Laterality
    assert iod_problems(sc) == ["general-series: Laterality (type 2C) missing"]
    real = export_module.secondary_capture

    def without_laterality(*args):
        ds = real(*args)
        del ds.Laterality
        return ds

    monkeypatch.setattr(export_module, "secondary_capture", without_laterality)
    with pytest.raises(ValueError, match=r"SC_01_001.dcm would not be valid DICOM \(general-series: Laterality"):
        export_dicom([Recording.load(recordings / "pixels")], Patient(), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_dsr2html_shows_every_measurement_with_its_name(exported, recordings):
    """DCMTK renders each value of a measurement group beside its concept name (SEPARATE, not CONTINUOUS)."""
    out, _ = exported
    text = dsr2html_text(out / "SR.dcm")
    for side in ("left", "right"):
        rec = Recording.load(recordings / f"visit2-{side}")
        t, e = rec.log.thickness(), rec.log.echogenicity()
        assert f"Fascia thickness: {t.median:g} mm" in text
        assert f"Fascia thickness interquartile range: {round(t.iqr, 4):g} mm" in text
        assert f"Echogenicity: {e.median:g} 1" in text
        assert f"Frames measured: {t.used} {{frames}}" in text
        assert f"Frames flagged: {rec.log.flagged} {{frames}}" in text
        assert f'Tracking Identifier = "Thoracolumbar fascia, {side}"' in text
    assert "Procedure reported = Diagnostic ultrasonography" in text
    assert not re.search(r"\d\.0 \{frames\}", text)  # counts are whole numbers


def test_sr_codes_and_algorithm_parameters(exported, recordings):
    _, files = exported
    sr = next(d for d in files if d.SOPClassUID == COMPREHENSIVE_SR)
    [procedure] = [it.ConceptCodeSequence[0] for p, it in sr_items(sr) if p[-1] == "Procedure reported"]
    assert (procedure.CodeValue, procedure.CodingSchemeDesignator) == ("16310003", "SCT")
    model = json.loads((recordings / "visit2-left" / "summary.json").read_text())["model"]
    params = {it.TextValue for p, it in sr_items(sr) if p[-1] == "Algorithm Parameters"}
    assert len(model) > 64 and model in params  # whole, not cut at 64 characters
    counts = [it.MeasuredValueSequence[0].NumericValue for p, it in sr_items(sr) if p[-1] == "Frames measured"]
    assert [str(v) for v in counts] == ["20", "12"]


def _ids(folder):
    scs, sr = _sc_and_sr(folder)
    uids = [it.UID for p, it in sr_items(sr) if p[-1] == "Tracking Unique Identifier"]
    return sr.StudyInstanceUID, uids, {d.StudyInstanceUID for d in scs}


def test_uids_are_stable_across_exports_and_visits(tmp_path, recordings):
    """The same visit exported again: the same study; the same patient's side at another visit: the same tracking UID
    in another study; another patient, another side or no patient ID: others."""
    left, right = recordings / "visit2-left", recordings / "visit2-right"
    p07 = Patient(patient_id="P-007", patient_name="Doe^Jane")

    def export(folders, patient, name):
        export_dicom([Recording.load(f) for f in folders], patient, tmp_path / name)
        return _ids(tmp_path / name)

    first, again = export([left, right], p07, "a"), export([left, right], p07, "b")
    assert first == again and first[2] == {first[0]}
    assert len(set(first[1])) == 2 and all(pydicom.uid.UID(u).is_valid for u in first[1])
    later = tmp_path / "visit3-left"
    shutil.copytree(left, later)
    (later / "clinic.json").write_text(json.dumps({"visit": "2099-01-01"}))
    visit3 = export([later], p07, "c")
    assert visit3[0] != first[0] and visit3[1] == first[1][:1]  # another study, the left side tracked on
    assert export([left], Patient(patient_id="P-008"), "d")[1] != first[1][:1]
    anonymous = export([left, right], Patient(), "e")
    assert anonymous == export([left, right], Patient(), "f") and anonymous[0] != first[0]
    assert anonymous[1] != first[1]
    given = export([left], Patient(patient_id="P-007", study_instance_uid="1.2.3.4"), "g")
    assert given[0] == "1.2.3.4"


def test_an_export_never_overwrites(tmp_path, recordings, clinic_cli, capsys):
    out = tmp_path / "out"
    argv = ["export", "--dicom", str(out), str(recordings / "pixels")]
    assert clinic_cli(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("tlfseg export: warning: no patient_id") and err.count("\n") == 1
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert clinic_cli(argv) == 1
    assert "already holds SC_01_001.dcm, SC_01_002.dcm, SC_01_003.dcm, SR.dcm" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def _by_name(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_patient_b_never_replaces_patient_a(tmp_path, recordings, clinic_cli, capsys, monkeypatch):
    """Patient B's export into a folder holding patient A's is refused and A's files stay as they were, byte for byte;
    also when A's export lands while B's first file is being written (two exports at once), where B then removes
    what it wrote."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"patient_name": "Able^Ann", "patient_id": "A-1"}))
    b.write_text(json.dumps({"patient_name": "Baker^Bob", "patient_id": "B-2"}))
    out = tmp_path / "out"
    assert clinic_cli(["export", "--dicom", str(out), "--patient", str(a), str(recordings / "visit2-left")]) == 0
    before = _by_name(out)
    argv = ["export", "--dicom", str(out), "--patient", str(b), str(recordings / "visit2-right"), "--side", "right"]
    assert clinic_cli(argv) == 1
    err = capsys.readouterr().err
    assert "already holds" in err and err.count("\n") == 1
    assert _by_name(out) == before

    at_once, landed, real = tmp_path / "at-once", {}, pydicom.dataset.Dataset.save_as

    def a_lands_first(self, *args, **kwargs):
        if not landed:
            landed["a"] = None
            landed["a"] = export_dicom([Recording.load(recordings / "visit2-left")], Patient.load(a), at_once)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pydicom.dataset.Dataset, "save_as", a_lands_first)
    with pytest.raises(ValueError, match="appeared while this export wrote"):
        export_dicom([Recording.load(recordings / "visit2-left")], Patient.load(b), at_once)
    assert sorted(_by_name(at_once)) == sorted(p.name for p in landed["a"].files)  # no B file, no temporary left
    assert {pydicom.dcmread(p).PatientID for p in at_once.iterdir()} == {"A-1"}


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"patient_name": "A" * 400_000}, "patient_name is 400000 bytes long in UTF-8 (at most 64)"),
        ({"patient_name": "山" * 10 + "^" + "太" * 12}, "patient_name is 67 bytes long"),  # 23 characters
        ({"study_instance_uid": "not-a-uid"}, "study_instance_uid is not a DICOM UID"),
        ({"study_instance_uid": "1." + "2" * 100}, "study_instance_uid is not a DICOM UID"),
        ({"study_instance_uid": "1.02.3"}, "study_instance_uid is not a DICOM UID"),
        ({"patient_name": "Doe\x00Jane"}, "patient_name holds U+0000, a control character"),
        ({"patient_id": "P\x1b(B7"}, "patient_id holds U+001B, a control character"),
        ({"patient_id": "P-7\nP-8"}, "patient_id holds U+000A, a control character"),
        ({"patient_name": "Doe\\Jane"}, "patient_name holds a backslash"),
        ({"patient_name": ["Doe", "Jane"]}, "patient_name must be text"),
        ({"patient_id": 7}, "patient_id must be text"),
        ({"patient_name": "A^B^C^D^E^F"}, "patient_name has 6 components"),
        ({"referring_physician_name": "A=B=C=D"}, "referring_physician_name has 4 component groups"),
        ({"study_id": "S" * 17}, "study_id is 17 bytes long in UTF-8 (at most 16)"),
        ({"institution_name": "ü" * 33}, "institution_name is 66 bytes long in UTF-8 (at most 64)"),
        ({"patient_birth_date": "1980-02-30"}, "patient_birth_date is not a date"),
        ({"patient_birth_date": "1980412"}, "patient_birth_date is not a date"),
        ({"patient_sex": "X"}, "patient_sex must be M, F or O"),
    ],
)
def test_patient_fields_are_checked_against_their_dicom_vrs(tmp_path, recordings, clinic_cli, capsys, fields, says):
    """A value its DICOM attribute cannot hold is refused in one line naming the file and the field, nothing
    written (before: written as given, files dciodvfy rejects, rc 0; a backslash gave a traceback)."""
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps(fields))
    with pytest.raises(ValueError, match=re.escape(f"{patient}: {says}")):
        Patient.load(patient)
    out = tmp_path / "out"
    assert clinic_cli(["export", "--dicom", str(out), "--patient", str(patient), str(recordings / "pixels")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tlfseg export: error: {patient}: ") and err.count("\n") == 1
    assert not out.exists()


def test_a_patient_file_that_is_no_json_is_named(tmp_path):
    patient = tmp_path / "p.json"
    for junk in (b"junk", b"\xff\xfe{"):
        patient.write_bytes(junk)
        with pytest.raises(ValueError, match=f"^{re.escape(str(patient))}: not a JSON file"):
            Patient.load(patient)


@pytest.mark.parametrize("name", ["山田^太郎", "Müller^Jürgen", "山" * 10 + "^" + "太" * 11], ids=["ja", "de", "64 B"])
def test_names_in_any_script_are_utf8_and_valid(tmp_path, recordings, name):
    """Written in UTF-8 with Specific Character Set ISO_IR 192 (before: "山田^太郎" became "??^??", "Müller^Jürgen"
    was Latin-1 without a character set: 13 dciodvfy errors); dicom3tools finds no Error and DCMTK's dcmdump reads
    the name back."""
    done = export_dicom(
        [Recording.load(recordings / "visit2-left")],
        Patient(patient_name=name, patient_id="P-ü", institution_name="Universitätsklinikum 東京"),
        tmp_path / "out",
    )
    assert dciodvfy(done.files) == []
    for path in done.files:
        ds = pydicom.dcmread(path)
        assert ds.SpecificCharacterSet == "ISO_IR 192" and str(ds.PatientName) == name
        dump = subprocess.run([tool("dcmdump"), str(path)], capture_output=True, timeout=60).stdout.decode()
        assert "(0008,0005) CS [ISO_IR 192]" in dump
        assert f"(0010,0010) PN [{name}]" in dump and "(0010,0020) LO [P-ü]" in dump
