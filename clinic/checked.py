"""Values read from a recording's files, each checked where it is read: a value of the wrong kind is a ValueError
naming the file (and line) and the key, never a traceback further on."""

from __future__ import annotations

import json
import math
from pathlib import Path


def json_object(path: Path) -> dict:
    """The JSON object in the small file `path` (summary.json, clinic.json)."""
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds {json.dumps(data)[:40]}, not a JSON object")
    return data


def _kind(value) -> str:
    """`value` in a message: its kind, or itself where it is a number."""
    return {bool: "true/false", str: "text", list: "a list", dict: "an object"}.get(type(value)) or json.dumps(value)


def number(record: dict, key: str, where: str, *, minimum: float = -math.inf, positive: bool = False) -> float | None:
    """`record[key]` as a finite number at least `minimum` (above 0 where `positive`); None where missing or null."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key} is {_kind(value)}, not a number")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        value = math.inf
    if not (math.isfinite(value) and value >= minimum and (value > 0 or not positive)):
        need = "above 0" if positive else f"at least {minimum:g}" if minimum > -math.inf else "finite"
        raise ValueError(f"{where}: {key} is {value:.6g}, not a number {need}")
    return value


def of_type(record: dict, key: str, kind: type, where: str, what: str):
    """`record[key]` where it is a `kind` (`what`, in words); None where missing or null."""
    value = record.get(key)
    if value is None or (isinstance(value, kind) and (kind is bool or not isinstance(value, bool))):
        return value
    raise ValueError(f"{where}: {key} is {_kind(value)}, not {what}")
