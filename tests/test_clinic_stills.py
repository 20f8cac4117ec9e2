"""Key frames for a clinician: the live panel (rate, latency, coverage, a per-frame IQR) replaced by the caption."""

import numpy as np
import pydicom

from clinic.dicom.export import export_dicom
from clinic.patient import Patient
from clinic.recording import Recording
from clinic.stills import BACKGROUND, caption, clinical, key_stills
from edge.core.roi import Box
from edge.live.sinks import read_log


def _white(picture: np.ndarray) -> int:
    return int((picture.min(axis=2) > 200).sum())


def test_the_panel_is_logged_and_replaced_by_the_caption(recordings):
    rec = Recording.load(recordings / "visit2-left")
    assert all("panel" in f for f in read_log(rec.log.path)[0])  # where the live picture's panel was drawn, every frame
    [i] = rec.log.key_frames(1)
    frame = rec.log.record(i)
    recorded, still = rec.pictures([i])[i], key_stills(rec, [i])[i]
    panel = Box.parse(frame["panel"])
    assert panel.fits(recorded.shape)
    changed = (still != recorded).any(axis=2)
    inside = np.zeros_like(changed)
    inside[panel.slices] = True
    assert changed[inside].mean() > 0.5 and not changed[~inside].any()  # the panel, and nothing else
    text = still[panel.slices]
    assert (text == BACKGROUND).all(axis=2).mean() > 0.9  # painted over: the caption's glyphs alone on it
    assert 0 < _white(text) < _white(recorded[panel.slices]) / 2  # one short line where two long ones were
    assert caption(frame, "mm") == f"fascia {frame['thickness_mm']:.2f} mm"


def test_captions_and_old_recordings():
    assert caption({"good": True, "thickness_px": 12.34}, "px") == "fascia 12.3 px"
    assert caption({"good": False, "thickness_mm": 1.0, "flags": ["jump"]}, "mm") == "no measurement (frame flagged)"
    picture = np.zeros((4, 4, 3), np.uint8)
    assert clinical(picture, {"roi": "0,0,4,4"}, "mm") is picture  # recorded before the panel was logged: as it was


def test_dicom_key_frames_are_the_clinical_stills(tmp_path, recordings):
    rec = Recording.load(recordings / "visit2-right")
    done = export_dicom([rec], Patient(), tmp_path / "out", key_frames=2)
    stills = key_stills(rec, rec.log.key_frames(2))
    images = [pydicom.dcmread(p).pixel_array for p in done.files[:-1]]
    assert [im.shape for im in images] == [s.shape for s in stills.values()]
    assert all((im == s[..., ::-1]).all() for im, s in zip(images, stills.values()))  # RGB of the BGR still
