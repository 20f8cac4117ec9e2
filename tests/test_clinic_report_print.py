"""The report as a browser and a PDF reader show it: laid out by headless Chromium at a phone's and a desktop's
width, printed to PDF and read back with poppler (`report_support`)."""

import pytest
from clinic_support import PATIENT, three_visits  # noqa: F401  (a fixture)
from report_support import chromium_or_skip, layout, marked, page_picture, page_sizes, pdf_pages

from clinic.patient import Patient
from clinic.recording import Recording
from clinic.report.html import build_report

A4 = (594.96, 841.92)  #: points, as Chromium writes A4 (210 x 297 mm)


@pytest.fixture(scope="module")
def page(three_visits):  # noqa: F811
    """The HTML of a three-visit report, both sides at the last visit."""
    patient, folders = three_visits
    return build_report([Recording.load(f) for f in folders], Patient.load(patient))


@pytest.mark.parametrize("width", [390, 1280])
def test_it_fits_a_phone_and_a_desktop(page, tmp_path, width):
    seen = layout(page, width, tmp_path)
    assert seen["width"] == width and seen["scroll"] == width  # nothing to scroll sideways
    assert seen["wider"] == []  # no element wider than the viewport (a table's right column, the plot)
    assert seen["broken"] == []  # no number wrapped away from its unit
    assert len(seen["images"]) == 6 and len(seen["trend"]) == 1 and 0 < seen["trend"][0] <= width
    if width < 600:  # a phone: key frames one a row, the full width (less the margins)
        assert min(seen["images"]) >= 0.9 * width
    else:
        assert 300 <= min(seen["images"]) <= width / 3


def test_it_prints_on_a4_with_nothing_split_and_every_page_named(page, tmp_path):
    from clinic.report.browser import render

    chromium_or_skip()
    (tmp_path / "report.html").write_text(page)
    plain = render(tmp_path / "report.html", pdf=tmp_path / "report.pdf")
    with_marks, pairs = marked(page)
    (tmp_path / "marked.html").write_text(with_marks)
    pages = pdf_pages(render(tmp_path / "marked.html", pdf=tmp_path / "marked.pdf"))
    assert len(pages) == len(pdf_pages(plain)) <= 4  # the markers moved nothing onto another page
    assert page_sizes(plain) == {A4}
    first = page_picture(plain, 1)
    assert abs(first.shape[0] / first.shape[1] - 297 / 210) < 0.01  # drawn as A4
    dark = (first < 100).all(axis=2)  # the key frames: dark tissue, in rows across the page
    assert dark.mean() > 0.05 and dark[: first.shape[0] // 3].mean() > 0.1
    assert len(pairs) == 12  # 2 side tables, the comparison, 2 visit tables, the caveat box, 6 headings
    for start, end in pairs:
        on = [n for n, text in enumerate(pages) if start in text], [n for n, text in enumerate(pages) if end in text]
        assert len(on[0]) == 1 and on[0] == on[1], (start, end, on)  # one page holds both
    for n, text in enumerate(pages, 1):
        foot = text.strip().splitlines()[-1]
        assert f"page {n} of {len(pages)}" in foot and f"ID {PATIENT['patient_id']}" in foot, foot
