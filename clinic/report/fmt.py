"""How the report writes numbers, names and dates: a value never apart from its unit, no "-0.00", DICOM's
"Family^Given" and YYYYMMDD as a reader expects them."""

from __future__ import annotations

from html import escape

NBSP = "\u00a0"


def digits(unit: str) -> int:
    return 2 if unit == "mm" else 1


def value(v: float | None, unit: str = "", bare: bool = False) -> str:
    """`1.40 mm` as text (2 decimals in mm, 1 otherwise; `bare`: without the unit), a no-break space before the unit;
    `-` for no value."""
    if v is None:
        return "-"
    text = f"{round(v, digits(unit)) + 0.0:.{digits(unit)}f}"  # + 0.0: no "-0.00"
    return text + (NBSP + escape(unit) if unit and not bare else "")


def num(v: float | None, unit: str = "") -> str:
    """`value` in a span that never breaks across lines."""
    return f'<span class="n">{value(v, unit)}</span>'


def signed(v: float, unit: str = "") -> str:
    """A difference: `+0.12 mm`, `-0.30 mm`, and `0.00 mm` for one that rounds to nothing."""
    sign = "+" if round(v, digits(unit)) > 0 else ""
    return f'<span class="n">{sign}{value(v, unit)}</span>'


def person_name(pn: str) -> str:
    """DICOM "Family^Given^Middle^Prefix^Suffix" as "Family, Given Middle" (with prefix and suffix around); the
    groups of "Yamada^Taro=山田^太郎" each so, with " / " between."""
    return " / ".join(_name(group) for group in pn.split("=") if group)


def _name(group: str) -> str:
    family, given, middle, prefix, suffix = ([*group.split("^"), "", "", "", ""])[:5]
    first = " ".join(p for p in (prefix, given, middle) if p)
    return ", ".join(p for p in (family, " ".join(q for q in (first, suffix) if q)) if p)


def date(yyyymmdd: str) -> str:
    """`19800412` as `1980-04-12`."""
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:8]}" if len(yyyymmdd) == 8 else yyyymmdd


def css_string(text: str) -> str:
    """`text` as a quoted CSS string: every character but letters, digits and plain punctuation as a hex escape, so
    that nothing in it can end the string or the style element."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:-_")
    return '"' + "".join(c if c in safe else f"\\{ord(c):x} " for c in text) + '"'
