"""JSON as the standard has it: no NaN or Infinity, which `json.dumps` writes by default and strict readers refuse."""

from __future__ import annotations

import json
import math


def finite(value):
    """`value` with every NaN and infinity (nested in dicts, lists and tuples) as None, JSON's null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value, **options) -> str:
    """`json.dumps` of `value` with non-finite numbers as null: the text is always strict JSON."""
    return json.dumps(finite(value), allow_nan=False, **options)
