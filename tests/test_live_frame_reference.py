"""The runtime's numbers against the reference kept before the frame's work was cut down to what it needs (issue 28).

tests/frame_reference.json was written by benchmarks/frame_reference.py from the code as it stood: the shared set's
test split as `tlfseg predict` runs it, with the operator's hint, in two altered versions that raise the flags, and a
1080p phantom stream with gliding. Tolerances: thickness and every other length within 0.25 px (mm: the same in mm),
coverage, fragmented, contested and confidence within 0.005, echogenicity within 0.5 grey levels, gliding within 0.001;
flags, pieces, the ROI and the native label map's class counts identical.
"""

from __future__ import annotations

import json
import math

import pytest

PX, SHARE, GREY, GLIDE = 0.25, 0.005, 0.5, 1e-3
#: measurement keys (`Measurement.to_dict`) and their tolerance; mm keys scale the px one
TOLERANCE = {
    "thickness_px": PX,
    "iqr_px": PX,
    "spread_px": PX,
    "vertical_px": PX,
    "depth_px": PX,
    "coverage": SHARE,
    "fragmented": SHARE,
    "contested": SHARE,
    "confidence": SHARE,
    "echo": GREY,
}
EXACT = ("good", "flags", "pieces", "mm_per_px")


def differences(path: str, got, want, tolerance: float | None) -> list[str]:
    """Where `got` and `want` (JSON values) differ beyond `tolerance` (None: exactly), as 'path: got != want'."""
    if isinstance(want, dict) and isinstance(got, dict) and got.keys() == want.keys():
        return [d for k in want for d in differences(f"{path}.{k}", got[k], want[k], tolerance)]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (got, want))
    if numbers and tolerance is not None and math.isclose(got, want, rel_tol=0.0, abs_tol=tolerance):
        return []
    return [] if got == want else [f"{path}: {got} != {want}"]


def record_differences(name: str, got: dict, want: dict) -> list[str]:
    gm, wm = got["measurement"], want["measurement"]
    out = differences(f"{name} roi", got["roi"], want["roi"], None)
    out += differences(f"{name} class_counts", got["class_counts"], want["class_counts"], None)
    out += differences(f"{name} gliding", got.get("gliding"), want.get("gliding"), GLIDE)
    for key in EXACT:
        out += differences(f"{name} {key}", gm[key], wm[key], None)
    for key, tol in TOLERANCE.items():
        out += differences(f"{name} {key}", gm[key], wm[key], tol)
    mm = wm["mm_per_px"]
    for key in ("thickness_mm", "iqr_mm"):
        out += differences(f"{name} {key}", gm[key], wm[key], PX * mm + 1e-4 if mm else None)
    return out


def test_differences_are_found_beyond_each_tolerance():
    want = {"a": 1.0, "b": {"c": 2.0}, "flags": ["partial"]}
    assert differences("m", {"a": 1.2, "b": {"c": 2.0}, "flags": ["partial"]}, want, 0.25) == []
    assert differences("m", {"a": 1.3, "b": {"c": 2.0}, "flags": ["partial"]}, want, 0.25) == ["m.a: 1.3 != 1.0"]
    assert differences("m", {"a": 1.0, "b": {"c": None}, "flags": []}, want, 0.25) == [
        "m.b.c: None != 2.0",
        "m.flags: [] != ['partial']",
    ]


@pytest.mark.realdata
def test_every_frame_reports_what_it_did_before(real_data_dir, bundled_engine):
    from benchmarks.frame_reference import REFERENCE, all_records, test_images

    reference = json.loads(REFERENCE.read_text())
    images = test_images(real_data_dir)
    got = all_records(bundled_engine, images, made_from=reference["auto"])
    assert {run: sorted(r) for run, r in got.items()} == {run: sorted(r) for run, r in reference.items()}
    flagged = {f for r in reference.values() for rec in r.values() for f in rec["measurement"]["flags"]}
    assert {"partial", "discontinuous", "fragmented", "ambiguous", "second_line"} <= flagged  # the flags' paths ran
    found = [d for run, r in reference.items() for name, want in r.items() for d in
             record_differences(f"{run}/{name}", got[run][name], want)]  # fmt: skip
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:40])
