"""`tlfseg report`: a self-contained HTML report whose numbers are the recordings' own; rendered in Chromium."""

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from clinic_support import flag_frames, record, three_visits  # noqa: F401  (a fixture)

from clinic.patient import Patient
from clinic.recording import Recording, side_from_name
from clinic.report.fmt import css_string, person_name
from clinic.report.html import build_report
from clinic.report.words import caveats

DOCS = Path(__file__).resolve().parents[1] / "docs" / "report.md"
MODEL = Path(__file__).resolve().parents[1] / "edge" / "models" / "model.json"


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
        assert f"{summary['median']:.2f}\u00a0mm" in report
    rec = Recording.load(recordings / "visit2-left")
    assert data["sides"]["left"]["echogenicity"]["median"] == rec.log.echogenicity().median
    right = Recording.load(recordings / "visit2-right")
    difference = right.log.thickness().median - rec.log.thickness().median
    shown = "0.00" if round(difference, 2) == 0 else f"{difference:+.2f}"  # no sign on nothing: never "-0.00"
    assert "<h2>Left and right</h2>" in report and f'<td><span class="n">{shown}\u00a0mm</span></td>' in report
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
        Recording.load(earlier).log.thickness().median,
        Recording.load(recordings / "visit2-left").log.thickness().median,
    )
    assert left == [then, now] and f"{then:.2f}\u00a0mm" in html
    assert [r["median"] for r in data["visits"] if r["side"] == "right"][0] is None  # no right side at the first
    assert "Change over visits" in html and html.count('<svg class="trend"') == 1


def test_person_names_as_a_reader_expects_them():
    assert person_name("Doe^Jane^Ann^Dr.^Jr.") == "Doe, Dr. Jane Ann Jr." and person_name("Doe") == "Doe"
    assert person_name("Yamada^Taro=山田^太郎=やまだ^たろう") == "Yamada, Taro / 山田, 太郎 / やまだ, たろう"
    assert person_name("=山田^太郎") == "山田, 太郎"


def test_side_from_folder_names():
    assert side_from_name("visit2-left") == "left" and side_from_name("RIGHT_2026") == "right"
    assert side_from_name("leftover") is None and side_from_name("left-right") is None


@pytest.fixture(scope="module")
def visits_report(three_visits):  # noqa: F811
    """The report of three visits (the HTML text and its embedded numbers)."""
    patient, folders = three_visits
    html = build_report([Recording.load(f) for f in folders], Patient.load(patient))
    return html, _data(html)


def _visible(html: str) -> str:
    """The report's text as a reader sees it (no tags, no embedded JSON or style)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    html = re.sub(r"</?span[^>]*>", "", html)  # inline: no space where it starts or ends
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).replace("\u00a0", " ")


def test_the_report_reads_as_a_clinician_expects(visits_report, three_visits):  # noqa: F811
    html, data = visits_report
    text = _visible(html)
    assert "Doe, Jane · ID P-007 · born 1980-04-12 · sex F · visit 2026-" in text
    assert "19800412" not in text and "Doe Jane" not in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert not re.search(r"-0\.0+\b", text)  # no negative zero anywhere
    assert re.search(r"echogenicity \(grey level, 0 to 255\) [\d.]+ [\d.]+ [+-]?[\d.]+", text)  # unit on the row
    assert "2 of 20 frames flagged and left out (a frame can have more than one reason, so these add up to 3)" in text
    assert text.count("depends on the scanner's gain") == 2  # beside the left-right comparison, and a caveat


def test_the_change_over_visits_has_median_iqr_and_change(visits_report, three_visits):  # noqa: F811
    html, data = visits_report
    _, folders = three_visits
    left = [r for r in data["visits"] if r["side"] == "left"]
    medians = [pooled_median(f) for f in folders if f.name.endswith("left")]
    assert [r["median"] for r in left] == medians
    assert all(r["p25"] <= r["median"] <= r["p75"] for r in left)
    changes = [r["change"] for r in left]
    assert changes[0] is None and changes[1:] == [round(b - a, 4) for a, b in zip(medians, medians[1:])]
    assert [r["beyond"] for r in left] == [None, True, True]  # 0.15 mm against an IQR of hundredths
    text = _visible(html)
    assert f"+{changes[1]:.2f} mm, larger than the spread" in text
    first = left[0]
    assert f"{first['p25']:.2f}–{first['p75']:.2f} mm (IQR {first['p75'] - first['p25']:.2f} mm)" in text
    right = [r for r in data["visits"] if r["side"] == "right"]
    assert right[0]["median"] is None and right[1]["change"] is None and right[2]["beyond"] is True


def pooled_median(folder: Path) -> float:
    return Recording.load(folder).log.thickness().median


def test_every_caveat_the_docs_promise_is_in_the_report(visits_report):
    """docs/report.md lists the caveats by their words; each is in the report, with the model's numbers."""
    html, _ = visits_report
    section = DOCS.read_text().split("## How far to trust the numbers", 1)[1].split("\n## ", 1)[0]
    promised = re.findall(r'^- "([^"]+)"', section, re.M)
    notes = caveats()
    assert len(promised) == 7 == len(notes)
    for words in promised:
        assert sum(words in note for note in notes) == 1, words
        assert words in _visible(html), words
    shipped = json.loads(MODEL.read_text())["evaluation"]["models"]["qat_int8"]
    dice, error = shipped["native_per_image_mean"]["fascia_dice"], shipped["frame_thickness_error_px"]
    assert f"by {dice:.0%} on average (Dice score)" in html
    assert f"by {error['median']:g} pixel" in html and f"up to {error['p90']:g} pixels for 9 images in 10" in html


def test_numbers_a_model_file_lacks_are_said_to_be_missing(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"evaluation": {"images": 12, "models": {}}}))
    notes = caveats(tmp_path)
    assert len(notes) == 7 and sum("is not recorded with this model" in n for n in notes) == 2


def test_patient_fields_cannot_break_out_of_the_page_style(tmp_path, recordings, clinic_cli):
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps({"patient_name": 'Doe"}</style><script>alert(1)</script>^Jane', "patient_id": "X"}))
    out = tmp_path / "r.html"
    assert clinic_cli(["report", str(recordings / "pixels"), "--patient", str(patient), "--out", str(out)]) == 0
    html = out.read_text()
    assert html.count("</style>") == 1 and "<script>alert" not in html
    assert css_string('a"}</style>') == '"a\\22 \\7d \\3c \\2f style\\3e "'


def test_report_prints_to_pdf(tmp_path, recordings, clinic_cli, capsys):
    from report_support import chromium_or_skip, page_sizes, pdf_pages

    chromium_or_skip()
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
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:] and len(data) > 50_000  # the key frames in it
    assert page_sizes(pdf) == {(594.96, 841.92)} and 1 <= len(pdf_pages(pdf)) <= 3  # A4


def test_a_report_never_writes_over_a_file(tmp_path, recordings, clinic_cli, capsys):
    out, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    pdf.write_bytes(b"the user's own")
    argv = ["report", str(recordings / "pixels"), "--out", str(out)]
    assert clinic_cli([*argv, "--pdf", str(pdf)]) == 1
    assert f"{pdf} already exists" in capsys.readouterr().err and not out.exists()  # refused before writing
    assert clinic_cli(argv) == 0 and out.read_text().startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob(".*.part"))  # written under a temporary name, renamed once whole
    assert clinic_cli(argv) == 1 and pdf.read_bytes() == b"the user's own"
    assert f"{out} already exists" in capsys.readouterr().err
