"""Write a visit's recordings as DICOM files: one SC series of key frames per recording, one SR for the visit."""

from __future__ import annotations

from pathlib import Path

from highdicom import UID
from pydicom.dataset import Dataset

from clinic.dicom.context import StudyContext
from clinic.dicom.sc import secondary_capture
from clinic.dicom.sr import measurement_report
from clinic.patient import Patient
from clinic.recording import Recording


def _describe(rec: Recording, index: int) -> str:
    f = rec.frames[index]
    value = f.get(f"thickness_{rec.unit}")
    shown = "no measurement" if value is None else f"thickness {value:g} {rec.unit}"
    state = "good" if f.get("good") else "flagged " + ",".join(f.get("flags", []))
    return f"tlfseg key frame: recording {rec.folder.name}, seq {f.get('seq')}, t {f.get('t_s')} s, {shown}, {state}"


def key_frame_images(rec: Recording, ctx: StudyContext, series_number: int, count: int) -> list[Dataset]:
    """The recording's key frames (the first frame when none is good) as one Secondary Capture series."""
    indices = rec.key_frames(count) or [0]
    pictures = rec.pictures(indices)
    if not pictures:
        raise ValueError(f"{rec.folder}: no overlay video to take key frames from")
    series = UID()
    return [
        secondary_capture(
            pictures[i], ctx, series, series_number, n, rec.frames[i].get("mm_per_px"), rec.side, _describe(rec, i)
        )
        for n, i in enumerate(sorted(pictures), 1)
    ]


def export_dicom(recordings: list[Recording], patient: Patient, out: str | Path, key_frames: int = 3) -> list[Path]:
    """Write `SC_<series>_<n>.dcm` per key frame and `SR.dcm`; returns the paths written."""
    if not recordings:
        raise ValueError("no recording to export")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = StudyContext.create(patient, recordings[0].started)
    groups, written = [], []
    for s, rec in enumerate(recordings, 1):
        images = key_frame_images(rec, ctx, s, key_frames)
        for im in images:
            path = out / f"SC_{s:02d}_{int(im.InstanceNumber):03d}.dcm"
            im.save_as(path, enforce_file_format=True)
            written.append(path)
        groups.append((rec, images))
    sr = measurement_report(groups, ctx, len(recordings) + 1, device_uid=UID())
    path = out / "SR.dcm"
    sr.save_as(path, enforce_file_format=True)
    return [*written, path]


def exported(written: list[Path], out: str | Path) -> str:
    """The line that says what an export wrote."""
    return f"DICOM: {len(written) - 1} Secondary Capture image(s) and 1 Structured Report in {out}"
