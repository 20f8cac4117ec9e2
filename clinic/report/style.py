"""The report's style: one column that fits a phone (390 px) and a desktop, and A4 pages in print.

Print: A4 with margins, each section (a side, a comparison, the caveats) kept on one page where it fits, a running
footer with the patient and visit on the left and "page N of M" on the right of every page (CSS page margin boxes,
which Chromium draws). Screen: numbers never part from their units (`.n`), key frames one a row on a phone.
"""

from __future__ import annotations

from clinic.report.fmt import css_string

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:24px auto;padding:0 16px;color:#222;max-width:1100px;line-height:1.4}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:3px;margin:26px 0 8px}
section{break-inside:avoid}
table{border-collapse:collapse;margin:8px 0;break-inside:avoid}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.n{white-space:nowrap}
.frames{display:flex;flex-wrap:wrap;gap:8px}
.frames img{width:calc((100% - 16px) / 3);height:auto;border:1px solid #999}
.muted{color:#666;font-size:13px}
.note{background:#fff8e0;border:1px solid #e6d28a;padding:8px 12px}
.trend{display:block;width:100%;max-width:600px;height:auto}
.legend span{margin-right:16px;white-space:nowrap}
@media (max-width:600px){
 body{margin:12px auto;padding:0 10px}
 h1{font-size:20px}
 table{font-size:14px;width:100%}
 td,th{padding:4px 5px}
 .frames img{width:100%}
}
@media print{
 body{margin:0;padding:0;max-width:none;font-size:10.5pt}
 h2{margin-top:14px}
 table{width:100%}
 td,th{padding:3px 8px}
}
"""


def page_style(footer: str) -> str:
    """The style, with the A4 page rule whose footer says `footer` and the page number."""
    box = "font:8.5pt system-ui,sans-serif;color:#555"
    return (
        CSS
        + f"@page{{size:A4;margin:14mm 14mm 16mm;@bottom-left{{content:{css_string(footer)};{box}}}"
        + f'@bottom-right{{content:"page " counter(page) " of " counter(pages);{box}}}}}'
    )
