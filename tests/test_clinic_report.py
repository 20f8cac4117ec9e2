"""`tlfseg report`: a self-contained HTML report whose numbers are the recordings' own; rendered in Chromium."""

import json
import re
import shutil

import cv2
import pytest
from clinic_support import flag_frames, record

from clinic.recording import Recording, side_from_name


def _data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="tlfseg-data">(.*?)</script>', html, re.S)[1])


@pytest.fixture
def report(tmp_path, recordings, clinic_cli):
    out = tmp_path / "report.html"
    assert (
        clinic_cli(["report", str(recordings / "visit2-left"), str(recordings / "visit2-right"), "--out", str(out)])
        == 0
    )
    return out.read_text()


def test_report_is_self_contained(report):
    text = re.sub(r'"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+"', '""', report)
    assert not re.search(r"(https?:)?//[a-z]", text)
    sources = re.findall(r'src="([^"]*)"', report)
    assert len(sources) == 6 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert "<link" not in report and "@import" not in report


def test_report_numbers_equal_the_recordings_summary(report, recordings):
    data = _data(report)
    assert set(data["sides"]) == {"left", "right"}  # from the folder names
    for side in ("left", "right"):
        summary = json.loads((recordings / f"visit2-{side}" / "summary.json").read_text())["thickness"]
        got = data["sides"][side]
        assert got["thickness"]["unit"] == summary["unit"] == "mm"
        for key in ("median", "p25", "p75"):
            assert got["thickness"][key] == pytest.approx(summary[key], abs=2e-4)
        assert got["thickness"]["used"] == summary["good_frames"] and got["flagged"] == summary["flagged_frames"]
        assert f"{summary['median']:.2f} mm" in report
    rec = Recording.load(recordings / "visit2-left")
    assert data["sides"]["left"]["echogenicity"]["median"] == rec.echogenicity().median
    right = Recording.load(recordings / "visit2-right")
    difference = right.thickness().median - rec.thickness().median
    assert "<h2>Left and right</h2>" in report and f"<td>{difference:+.2f} mm</td>" in report
    assert "0.1 mm per pixel" in report
    assert "not a medical device" in report and "Dice score" in report and "Change over visits" not in report


def test_flags_are_explained_in_plain_words(tmp_path, clinic_cli):
    rec = tmp_path / "scan"
    record(rec, frames=5, mm_per_px=None)
    flag_frames(rec, slice(0, 2), "low_coverage")
    out = tmp_path / "r.html"
    assert clinic_cli(["report", str(rec), "--side", "right", "--out", str(out)]) == 0
    html = out.read_text()
    assert "2 of 5 frames flagged" in html and "too little of the picture" in html
    data = _data(html)["sides"]["right"]
    assert data["flags"] == {"low_coverage": 2} and data["thickness"]["used"] == 3 and data["thickness"]["unit"] == "px"
    assert "none: thickness is in pixels" in html


def test_two_visits_give_the_change_over_visits(tmp_path, recordings, clinic_cli):
    earlier = tmp_path / "visit1-left"  # an earlier visit: another recording, its side from the folder name
    shutil.copytree(recordings / "visit2-right", earlier)
    (earlier / "clinic.json").write_text(json.dumps({"visit": "2000-01-31"}))
    out = tmp_path / "r.html"
    argv = [
        "report",
        str(earlier),
        str(recordings / "visit2-left"),
        str(recordings / "visit2-right"),
        "--out",
        str(out),
    ]
    assert clinic_cli(argv) == 0
    html = out.read_text()
    data = _data(html)
    assert data["visit"] != "2000-01-31" and [r["visit"] for r in data["visits"]][0] == "2000-01-31"
    left = [r["median"] for r in data["visits"] if r["side"] == "left"]
    then, now = (
        Recording.load(earlier).thickness().median,
        Recording.load(recordings / "visit2-left").thickness().median,
    )
    assert left == [then, now] and f"{then:.2f} mm" in html
    assert [r["median"] for r in data["visits"] if r["side"] == "right"][0] is None  # no right side at the first
    assert "Change over visits" in html and html.count("data:image/png;base64,") == 1


def test_side_from_folder_names():
    assert side_from_name("visit2-left") == "left" and side_from_name("RIGHT_2026") == "right"
    assert side_from_name("leftover") is None and side_from_name("left-right") is None


def _chromium() -> None:
    from clinic.report.browser import chromium

    try:
        chromium()
    except RuntimeError as exc:
        pytest.skip(str(exc))


def test_report_renders_in_headless_chromium(tmp_path, report):
    from clinic.report.browser import render

    _chromium()
    page = tmp_path / "report.html"
    page.write_text(report)
    img = cv2.imread(str(render(page, screenshot=tmp_path / "shot.png")))
    assert img.shape[:2] == (1800, 1200)
    ink = (img < 200).any(axis=2)
    assert ink.mean() > 0.1  # the pictures and text were drawn, not a blank page
    assert ink[100:450, 20:1150].mean() > 0.3  # the first side's key frames, near the top


def test_report_prints_to_pdf(tmp_path, recordings, clinic_cli, capsys):
    _chromium()
    pdf = tmp_path / "print" / "report.pdf"
    argv = [
        "report",
        str(recordings / "visit2-left"),
        str(recordings / "visit2-right"),
        "--out",
        str(tmp_path / "r.html"),
    ]
    assert clinic_cli([*argv, "--pdf", str(pdf)]) == 0
    assert f"PDF: {pdf}" in capsys.readouterr().out
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 1 <= pages <= 4 and len(data) > 50_000  # A4 pages with the key frames embedded
