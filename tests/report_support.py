"""The report seen by a second implementation: laid out by headless Chromium at a given width, its PDF read by
poppler (pdfinfo, pdftotext, pdftoppm). Each helper skips the test, saying what to install, where a tool is missing.

Headless Chromium will not make its window narrower than 500 px, so a phone's width is given to the report by an
iframe of that width (`srcdoc`: same origin, so the page around it can read the layout); a script measures, once it
is laid out, what is wider than the viewport, which number was broken from its unit, and how wide the key frames are.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from clinic_support import tool

PROBE = """
const d = frame.contentDocument, w = d.documentElement.clientWidth;
const boxes = [...d.querySelectorAll("body *")].map(e => [e, e.getBoundingClientRect()]).filter(([, r]) => r.width);
const lines = e => new Set([...e.getClientRects()].map(r => Math.round(r.top))).size;
document.body.dataset.probe = JSON.stringify({
  width: w,
  scroll: d.documentElement.scrollWidth,
  wider: boxes.filter(([, r]) => r.right > w + 0.5 || r.left < -0.5)
    .map(([e, r]) => `${e.tagName} ${r.left}..${r.right}`),
  broken: [...d.querySelectorAll(".n")].filter(e => lines(e) > 1).map(e => e.textContent),
  images: [...d.querySelectorAll(".frames img")].map(e => e.getBoundingClientRect().width),
  trend: [...d.querySelectorAll("svg.trend")].map(e => e.getBoundingClientRect().width),
});
"""


def chromium_or_skip() -> str:
    from clinic.report.browser import chromium

    try:
        return chromium()
    except RuntimeError as exc:
        pytest.skip(str(exc))


def framed(page: str, width: int) -> str:
    """A page showing `page` (HTML) in an iframe `width` px wide, tall enough to need no scroll bar."""
    return (
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="frame" scrolling="no" style="border:0;width:{width}px;height:20000px" '
        f'srcdoc="{html.escape(page, quote=True)}" onload="measure()"></iframe>'
        f"<script>function measure() {{{PROBE}}}</script></body></html>"
    )


def layout(page: str, width: int, folder: Path) -> dict:
    """How Chromium lays `page` out at `width` px: the viewport, the document's width, the elements wider than the
    viewport, the numbers broken from their units, the key frames' and the trend plot's widths."""
    wrapper = folder / f"at-{width}.html"
    wrapper.write_text(framed(page, width))
    from clinic.report.browser import FLAGS

    command = [chromium_or_skip(), *FLAGS, "--window-size=1400,1000", "--dump-dom", wrapper.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, done.stderr[-500:]
    return json.loads(html.unescape(found[1]))


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext, layout kept)."""
    count = int(re.search(r"Pages:\s+(\d+)", _run("pdfinfo", str(pdf)))[1])
    return [_run("pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-") for n in range(1, count + 1)]


def page_sizes(pdf: Path) -> set[tuple[float, float]]:
    """Every page's size in points (pdfinfo)."""
    text = _run("pdfinfo", "-f", "1", "-l", "999", str(pdf))
    return {(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", text)}


def page_picture(pdf: Path, n: int, dpi: int = 40):
    """Page `n` of the PDF drawn by poppler (`pdftoppm`), as a BGR array."""
    import cv2

    out = pdf.with_name(f"{pdf.stem}-page{n}")
    _run("pdftoppm", "-r", str(dpi), "-f", str(n), "-l", str(n), "-png", "-singlefile", str(pdf), str(out))
    return cv2.imread(str(out.with_suffix(".png")))


def _run(name: str, *args: str) -> str:
    done = subprocess.run([tool(name, "poppler-utils"), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _inside(page: str, at: int, name: str) -> str:
    """`page` with marker `name` in the first paragraph, cell or item at or after `at` (in its text: a marker of its
    own between blocks would add a line)."""
    found = re.compile(r"<(p|th|td|li|h2)\b[^>]*>").search(page, at)
    return page[: found.end()] + _mark(name) + page[found.end() :]


def _mark(name: str) -> str:
    return f'<span style="font-size:1px;color:#fff">QQ{name}QQ</span>'


def marked(page: str) -> tuple[str, list[tuple[str, str]]]:
    """`page` with invisible markers (1 px white text inside existing text: the layout does not move) at the start
    and end of each table and of the caveat box, and in each heading and at the start of what follows it; returns it
    and the (start, end) marker pairs that must land on one page of the PDF: no table or box split, no heading
    orphaned at the foot of a page."""
    pairs: list[tuple[str, str]] = []
    for kind, opening, closing in (("t", "<table>", "</td>"), ("n", '<div class="note">', "</li>"), ("h", "<h2>", "")):
        at = 0
        while (at := page.find(opening, at)) >= 0:
            a, b = f"{kind}{len(pairs)}a", f"{kind}{len(pairs)}b"
            pairs.append((f"QQ{a}QQ", f"QQ{b}QQ"))
            page = _inside(page, at, a)
            if closing:  # the end of the table or box: before its last cell's or item's close
                end = page.find({"t": "</table>", "n": "</div>"}[kind], at)
                last = page.rfind(closing, at, end)
                page = page[:last] + _mark(b) + page[last:]
            else:  # a heading: what follows it
                page = _inside(page, page.find("</h2>", at), b)
            at += len(opening)
    return page, pairs
