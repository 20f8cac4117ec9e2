"""Write a visit's recordings as DICOM files: one SC series of key frames per recording, one SR for the visit.

Every object is built and checked (`validate.iod_problems`) before the first file is written, and an export either
writes all its files or none: each is written under a temporary name and renamed once complete, and what was
written is removed when a later file cannot be. A folder that already holds a file of the same name is refused (an
earlier export is never overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from highdicom import UID
from pydicom.dataset import Dataset

from clinic.dicom.context import StudyContext
from clinic.dicom.sc import secondary_capture
from clinic.dicom.sr import measurement_report
from clinic.dicom.validate import iod_problems
from clinic.files import written
from clinic.patient import Patient
from clinic.recording import Recording
from clinic.stills import key_stills


@dataclass
class Export:
    """What an export wrote, and what the user should know about it."""

    files: list[Path]
    warnings: list[str] = field(default_factory=list)

    def describe(self, out: str | Path) -> str:
        """The line that says what was written."""
        return f"DICOM: {len(self.files) - 1} Secondary Capture image(s) and 1 Structured Report in {out}"


def _describe(rec: Recording, index: int) -> str:
    f = rec.log.record(index)
    value = f.get(f"thickness_{rec.log.unit}")
    shown = "no measurement" if value is None else f"thickness {value:g} {rec.log.unit}"
    state = "good" if f.get("good") else "flagged " + ",".join(f.get("flags", []))
    return f"tlfseg key frame: recording {rec.folder.name}, seq {f.get('seq')}, t {f.get('t_s')} s, {shown}, {state}"


def key_frame_images(rec: Recording, ctx: StudyContext, series_number: int, count: int) -> list[Dataset]:
    """The recording's key frames (the first frame when none is good), with the clinical caption, as one Secondary
    Capture series."""
    indices = rec.log.key_frames(count) or [0]
    pictures = key_stills(rec, indices)
    if not pictures:
        raise ValueError(f"{rec.folder}: no overlay video to take key frames from")
    series = UID()
    return [
        secondary_capture(
            pictures[i], ctx, series, series_number, n, rec.log.record(i).get("mm_per_px"), rec.side, _describe(rec, i)
        )
        for n, i in enumerate(sorted(pictures), 1)
    ]


def export_dicom(recordings: list[Recording], patient: Patient, out: str | Path, key_frames: int = 3) -> Export:
    """Write `SC_<series>_<n>.dcm` per key frame and `SR.dcm` to `out`. ValueError, and nothing written, for an object
    that fails its IOD check or a folder that already holds one of the files."""
    if not recordings:
        raise ValueError("no recording to export")
    out = Path(out)
    ctx = StudyContext.create(patient, recordings)
    objects: dict[str, Dataset] = {}
    groups = []
    for s, rec in enumerate(recordings, 1):
        images = key_frame_images(rec, ctx, s, key_frames)
        objects.update({f"SC_{s:02d}_{int(im.InstanceNumber):03d}.dcm": im for im in images})
        groups.append((rec, images))
    objects["SR.dcm"] = measurement_report(groups, ctx, len(recordings) + 1, device_uid=UID())
    for name, ds in objects.items():
        if problems := iod_problems(ds):
            raise ValueError(f"{name} would not be valid DICOM ({'; '.join(problems)}): nothing written")
    taken = sorted(name for name in objects if (out / name).exists())
    if taken:
        raise ValueError(f"{out} already holds {', '.join(taken)} (an earlier export?): give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    done: list[Path] = []
    try:
        for name, ds in objects.items():
            with written(out / name) as tmp:
                ds.save_as(tmp, enforce_file_format=True)
            done.append(out / name)
    except BaseException as exc:
        for path in done:
            path.unlink()
        if isinstance(exc, FileExistsError):  # another export wrote there meanwhile: its files are kept
            raise ValueError(
                f"{exc.filename} appeared while this export wrote (another at once?): nothing written, "
                "give a new folder"
            ) from None
        raise
    warnings = []
    if not patient.patient_id:
        warnings.append(
            "no patient_id (--patient FILE): an archive cannot file the study under its patient, and the findings "
            "are tracked within this study only"
        )
    return Export(done, warnings)
