"""DICOM value representations (PS3.5 6.2) of the patient file's fields, checked without pydicom (the report needs
no DICOM package): what each may hold, so that a value given is written as valid DICOM or refused.

Text is written in UTF-8 (Specific Character Set `ISO_IR 192`), so every character is allowed except the control
characters (no code extensions are used, so ESC neither) and the backslash, which separates values.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

#: the most bytes a value may take in UTF-8: the standard counts characters (a PN's per component group), and
#: dicom3tools' dciodvfy bytes of the whole value, so a value within these is valid by either reading
MAX_BYTES = {"SH": 16, "LO": 64, "PN": 64, "UI": 64}
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_CS = re.compile(r"[A-Z0-9 _]{1,16}")


def _is_date(value: str) -> bool:
    """`value` is YYYYMMDD, a day of the calendar."""
    try:
        return len(value) == 8 and value.isascii() and bool(dt.datetime.strptime(value, "%Y%m%d"))
    except ValueError:
        return False


def _text_problem(value: str) -> str | None:
    """What makes `value` no single-valued DICOM text: a control character (named by its code) or a backslash."""
    for ch in value:
        if (kind := unicodedata.category(ch)) in ("Cc", "Cs"):
            return f"holds U+{ord(ch):04X}, {'a control character' if kind == 'Cc' else 'half a surrogate pair'}"
    return "holds a backslash (DICOM's value separator)" if "\\" in value else None


def _pn_problem(value: str) -> str | None:
    """A person name: at most 3 component groups (alphabetic=ideographic=phonetic) of at most 5 components
    (family^given^middle^prefix^suffix)."""
    groups = value.split("=")
    if len(groups) > 3:
        return f"has {len(groups)} component groups separated by '=' (at most 3: alphabetic=ideographic=phonetic)"
    for group in groups:
        if group.count("^") > 4:
            return f"has {group.count('^') + 1} components separated by '^' (at most 5: family^given^middle^...)"
    return None


def problem(value: str, vr: str) -> str | None:
    """Why `value` cannot be written as DICOM `vr` (CS, DA, LO, PN, SH, UI), or None when it can."""
    if vr == "DA":
        return None if _is_date(value) else "is not a date (YYYYMMDD or YYYY-MM-DD)"
    if vr == "CS":
        return None if _CS.fullmatch(value) else "is not a code string (at most 16 of A-Z, 0-9, space and _)"
    if vr == "UI":
        if len(value) > MAX_BYTES["UI"] or not _UID.fullmatch(value):
            return "is not a DICOM UID (digits in dot-separated parts without leading zeros, at most 64 characters)"
        return None
    if found := _text_problem(value) or (_pn_problem(value) if vr == "PN" else None):
        return found
    size = len(value.encode())
    return f"is {size} bytes long in UTF-8 (at most {MAX_BYTES[vr]})" if size > MAX_BYTES[vr] else None
