"""`tlfseg run --record DIR --dicom OUT`: the live session's recording exported as DICOM when it ends, however."""

import json
import os
import signal
import sys
import threading
import time

import cv2
import pydicom
import pytest
from clinic_support import dciodvfy, sr_items, sr_numbers

from clinic.recording import Recording

QUIET = ["--no-display", "--status-every", "0"]


@pytest.fixture(scope="module")
def video(tmp_path_factory, phantom):
    """A 12-frame MP4 of the phantom (a scan as a file)."""
    path = tmp_path_factory.mktemp("video") / "scan.mp4"
    first = phantom.frame(0).image
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (first.shape[1], first.shape[0]))
    for i in range(12):
        out.write(phantom.frame(i).image)
    out.release()
    return path


def test_a_session_from_a_video_file_ends_in_dicom(tmp_path, video, clinic_cli, capsys):
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps({"patient_name": "Doe^Jane", "patient_id": "P-007"}))
    rec, out = tmp_path / "rec", tmp_path / "dicom"
    argv = ["run", "--source", str(video), "--every-frame", *QUIET, "--mm-per-px", "0.1", "--record", str(rec)]
    assert clinic_cli([*argv, "--dicom", str(out), "--patient", str(patient), "--side", "left"]) == 0
    assert f"DICOM: 3 Secondary Capture image(s) and 1 Structured Report in {out}" in capsys.readouterr().out
    files = sorted(out.glob("*.dcm"))
    assert [p.name for p in files] == ["SC_01_001.dcm", "SC_01_002.dcm", "SC_01_003.dcm", "SR.dcm"]
    assert dciodvfy(files) == []
    sr = pydicom.dcmread(out / "SR.dcm")
    recording, summary = Recording.load(rec), json.loads((rec / "summary.json").read_text())
    assert summary["frames"]["processed"] == 12 and json.loads((rec / "clinic.json").read_text()) == {"side": "left"}
    [(thickness, unit)] = sr_numbers(sr, "Fascia thickness")
    assert thickness == recording.log.thickness().median and unit.CodeValue == "mm"
    assert thickness == pytest.approx(summary["thickness"]["median"], abs=5e-4)
    assert [v for v, _ in sr_numbers(sr, "Frames measured")] == [summary["thickness"]["good_frames"]]
    assert [it.ConceptCodeSequence[0].CodeMeaning for p, it in sr_items(sr) if p[-1] == "Laterality"] == ["Left"]
    assert (str(sr.PatientName), sr.PatientID) == ("Doe^Jane", "P-007")


@pytest.fixture
def ctrl_c_delivered():
    """Ctrl-C raises KeyboardInterrupt here even where the suite was started with SIGINT ignored (a background job)."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


def test_an_interrupted_session_exports_what_was_recorded(tmp_path, clinic_cli, capsys, ctrl_c_delivered):
    rec, out = tmp_path / "rec", tmp_path / "dicom"

    def ctrl_c_after_8_frames():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = rec / "frames.jsonl"
            if log.is_file() and log.read_text().count('"seq"') >= 8:
                os.kill(os.getpid(), signal.SIGINT)  # the loop is running: Ctrl-C ends it
                return
            time.sleep(0.02)

    threading.Thread(target=ctrl_c_after_8_frames, daemon=True).start()
    argv = ["run", "--source", "demo", "--frames", "3000", *QUIET, "--record", str(rec), "--dicom", str(out)]
    assert clinic_cli(argv) == 130  # 0 had the 3,000 frames run out first: the Ctrl-C never arrived
    assert "1 Structured Report" in capsys.readouterr().out
    summary = json.loads((rec / "summary.json").read_text())
    assert summary["interrupted"] and summary["frames"]["processed"] >= 8
    sr = pydicom.dcmread(out / "SR.dcm")
    assert [v for v, _ in sr_numbers(sr, "Frames measured")] == [summary["thickness"]["good_frames"]]
    assert [u.CodeValue for _, u in sr_numbers(sr, "Fascia thickness")] == ["{pixels}"]  # no calibration given


def test_options_are_checked_before_the_session_starts(tmp_path, clinic_cli, capsys):
    out = str(tmp_path / "dicom")
    assert clinic_cli(["run", "--frames", "2", *QUIET, "--dicom", out]) == 1
    assert "--dicom, --patient and --side need --record DIR" in capsys.readouterr().err
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"weight": 70}))
    rec = tmp_path / "rec"
    argv = ["run", "--frames", "2", *QUIET, "--record", str(rec), "--dicom", out]
    assert clinic_cli([*argv, "--patient", str(bad)]) == 1
    assert "unknown field(s) ['weight']" in capsys.readouterr().err
    assert not rec.exists()  # nothing was recorded: the session never started


def test_without_the_dicom_extra_the_session_does_not_start(monkeypatch, tmp_path, clinic_cli, capsys):
    for name in [m for m in sys.modules if m.startswith(("clinic.dicom", "highdicom", "pydicom"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import fails as where it is not installed
    rec = tmp_path / "rec"
    assert clinic_cli(["run", "--frames", "2", *QUIET, "--record", str(rec), "--dicom", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tlfseg run needs the 'dicom' extra (pydicom is not installed): pip install 'tlfseg[dicom]'"
    assert not rec.exists()


def test_a_failed_export_says_so_and_keeps_the_recording(tmp_path, clinic_cli, capsys):
    rec, out = tmp_path / "rec", tmp_path / "taken"
    out.write_text("a file, not a folder")
    assert clinic_cli(["run", "--frames", "3", *QUIET, "--record", str(rec), "--dicom", str(out)]) == 1
    err = capsys.readouterr().err
    assert "tlfseg run: error: DICOM export failed:" in err and f"tlfseg export --dicom {out} {rec}" in err
    assert (rec / "summary.json").is_file()
