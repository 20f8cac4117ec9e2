"""Fixtures for the clinic tests: small real recordings, and the `clinic` plug-in registered with `tlfseg`.

The `tlfseg.commands` entry point of `clinic` is read from the installed metadata; in a checkout installed before
`clinic` existed it is missing, so `clinic_cli` adds it the way an up-to-date `pip install -e .` would.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from importlib.metadata import EntryPoint

import pytest

import edge.tools.cli
from edge.tools.cli import main

CLINIC = EntryPoint(name="clinic", value="clinic.cli:register", group="tlfseg.commands")


@pytest.fixture
def clinic_cli(monkeypatch):
    """`edge.tools.cli.main`, with the clinic commands registered through the entry-point group."""
    real = edge.tools.cli.entry_points

    def with_clinic(group: str):
        found = list(real(group=group))
        return found + [CLINIC] if group == CLINIC.group and CLINIC.value not in {e.value for e in found} else found

    monkeypatch.setattr(edge.tools.cli, "entry_points", with_clinic)
    return main


def record(folder, frames: int = 20, mm_per_px: float | None = 0.1, extra: tuple[str, ...] = ()) -> None:
    argv = ["run", "--source", "demo", "--frames", str(frames), "--no-display", "--record", str(folder)]
    argv += ["--status-every", "0", *(["--mm-per-px", str(mm_per_px)] if mm_per_px else []), *extra]
    assert main(argv) == 0


def flag_frames(folder, frames: slice, flag: str) -> None:
    """Mark the recording's frame records `frames` (a slice of them) as flagged with `flag`, in its log."""
    log = folder / "frames.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    for line in [x for x in lines if "seq" in x][frames]:
        line.update(good=False, flags=[flag])
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))


def sr_items(ds, path=()):
    """Every SR content item, depth first, with the meanings of its ancestors."""
    for item in getattr(ds, "ContentSequence", []):
        name = item.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in item else ""
        yield (*path, name), item
        yield from sr_items(item, (*path, name))


def sr_numbers(sr, meaning: str) -> list:
    """(value, unit code item) of each NUM item named `meaning`, in document order."""
    found = [it for p, it in sr_items(sr) if p[-1] == meaning and it.ValueType == "NUM"]
    return [
        (float(it.MeasuredValueSequence[0].NumericValue), it.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0])
        for it in found
    ]


def dciodvfy(paths) -> list[str]:
    """dicom3tools' validators on written files: `dciodvfy` each (the IOD: modules, attributes, their types, values
    and VRs) and `dcentvfy` all together (patient, study and series the same in every file); their Error lines.
    Skips the test, with the reason, where dicom3tools (the Debian package) is not installed."""
    if shutil.which("dciodvfy") is None or shutil.which("dcentvfy") is None:
        pytest.skip("dicom3tools' dciodvfy / dcentvfy not installed (apt-get install dicom3tools)")

    def errors(*command) -> list[str]:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]

    return [f"{p.name}: {e}" for p in paths for e in errors("dciodvfy", str(p))] + errors("dcentvfy", *map(str, paths))


def tool(name: str, package: str = "dcmtk") -> str:
    """The path of a reference tool, or skip the test, saying which package has it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (apt-get install {package})")
    return found


def dsr2html_text(path) -> str:
    """DCMTK's rendering of an SR (`dsr2html`, what viewers built on DCMTK show) as plain text, one space apart."""
    done = subprocess.run([tool("dsr2html"), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = html.unescape(re.sub(r"<[^>]+>", " ", done.stdout))
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two sides of one visit (calibrated 0.1 mm/px) and an uncalibrated one."""
    root = tmp_path_factory.mktemp("recordings")
    record(root / "visit2-left")
    record(root / "visit2-right", frames=12)
    record(root / "pixels", frames=6, mm_per_px=None)
    return root


def shift_thickness(folder, mm: float) -> None:
    """Add `mm` to every frame's thickness in the recording's log (an earlier visit with another fascia)."""
    log = folder / "frames.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    for line in lines:
        if line.get("thickness_mm") is not None:
            line["thickness_mm"] = round(line["thickness_mm"] + mm, 4)
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))


PATIENT = {"patient_name": "Doe^Jane", "patient_id": "P-007", "patient_birth_date": "1980-04-12", "patient_sex": "F"}


@pytest.fixture(scope="module")
def three_visits(tmp_path_factory, recordings):
    """A patient file and three visits' recordings (folders in visit order): the left side at all three, thinner by
    0.3 and 0.15 mm at the first two, the right side at the last two; at the last, one left frame flagged for two
    reasons and one for one."""
    root = tmp_path_factory.mktemp("visits")
    folders = []
    for visit, sides, shift in (("2025-06-01", ("left",), -0.3), ("2026-01-10", ("left", "right"), -0.15)):
        for side in sides:
            folder = root / f"{visit}-{side}"
            shutil.copytree(recordings / f"visit2-{side}", folder)
            (folder / "clinic.json").write_text(json.dumps({"visit": visit}))
            shift_thickness(folder, shift)
            folders.append(folder)
    for side in ("left", "right"):
        shutil.copytree(recordings / f"visit2-{side}", root / f"now-{side}")
        folders.append(root / f"now-{side}")
    flag_frames(root / "now-left", slice(3, 4), "low_coverage")
    log = root / "now-left" / "frames.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    [x for x in lines if "seq" in x][3]["flags"].append("jump")
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    flag_frames(root / "now-left", slice(9, 10), "jump")
    patient = root / "patient.json"
    patient.write_text(json.dumps(PATIENT))
    return patient, folders
