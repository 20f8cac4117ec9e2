"""Scanner presets: a small JSON file per scanner set-up with its ROI, calibration and capture settings.

    {
      "name": "Scanner X, lumbar, 40 mm",
      "roi": "110,40,400,420",
      "depth_mm": 40,
      "source": {"fourcc": "MJPG", "width": 1920, "height": 1080, "fps": 30}
    }

Calibration is one of: "mm_per_px"; "depth_mm" (the depth setting spans the B-mode rows); or
"scale_points" [[x1, y1], [x2, y2]] on the on-screen depth scale with "scale_mm" between them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from edge.core import strict_json
from edge.core.roi import Box
from edge.core.values import CALIBRATION_LIMITS, SOURCE_LIMITS, number
from edge.live.sources import SourceSettings
from edge.measurement.candidates import OperatorPrior
from edge.measurement.measure import Calibration, mm_per_px_from_points

_KEYS = {"name", "roi", "mm_per_px", "depth_mm", "scale_points", "scale_mm", "fascia_depth_mm", "source"}
_SOURCE_KEYS = {"fourcc", "width", "height", "fps"}


@dataclass(frozen=True)
class Preset:
    name: str = ""
    roi: Box | None = None
    calibration: Calibration = field(default_factory=Calibration)
    source: SourceSettings = field(default_factory=SourceSettings)
    fascia_depth_mm: tuple[float, float] | None = None  #: where the fascia is expected on this scanner and body site

    @classmethod
    def load(cls, path: str | Path) -> Preset:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"preset not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"preset {path} is not valid JSON text: {exc}") from None
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"preset {path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: dict) -> Preset:
        if not isinstance(data, dict):
            raise ValueError("a preset is a JSON object")
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} (known: {sorted(_KEYS)})")
        source = data.get("source") or {}
        if not isinstance(source, dict):
            raise ValueError(f'"source" is an object such as {{"fps": 30}}, got {source!r}')
        unknown = set(source) - _SOURCE_KEYS
        if unknown:
            raise ValueError(f"unknown source keys {sorted(unknown)} (known: {sorted(_SOURCE_KEYS)})")
        roi = data.get("roi")
        if roi is not None and not isinstance(roi, str):
            raise ValueError(f'"roi" is a string "x,y,w,h" in pixels, got {roi!r}')
        roi = Box.parse(roi) if roi else None
        depth = data.get("fascia_depth_mm")
        if depth is not None:
            if not isinstance(depth, list) or len(depth) != 2:
                raise ValueError(f'"fascia_depth_mm" is [LO, HI] in mm, got {depth!r}')
            depth = tuple(number(v, '"fascia_depth_mm"', low_open=False) for v in depth)
            OperatorPrior(range_mm=depth)  # refuses a range that is not 0 <= LO < HI
        settings = {k: number(v, f'"source" "{k}"', **SOURCE_LIMITS[k]) for k, v in source.items() if k != "fourcc"}
        if "fourcc" in source:
            settings["fourcc"] = str(source["fourcc"])
        for k in ("width", "height"):
            if k in settings and not float(settings[k]).is_integer():
                raise ValueError(f'"source" "{k}" must be a whole number of pixels, got {source[k]!r}')
            if k in settings:
                settings[k] = int(settings[k])
        return cls(str(data.get("name", "")), roi, _calibration(data), SourceSettings(**settings), depth)

    def to_dict(self) -> dict:
        out: dict = {"name": self.name}
        if self.roi is not None:
            out["roi"] = str(self.roi)
        if self.calibration.mm_per_px is not None:
            out["mm_per_px"] = self.calibration.mm_per_px
        if self.calibration.depth_mm is not None:
            out["depth_mm"] = self.calibration.depth_mm
        if self.fascia_depth_mm is not None:
            out["fascia_depth_mm"] = list(self.fascia_depth_mm)
        s = self.source
        out["source"] = {k: v for k, v in vars(s).items() if v is not None}
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(strict_json.dumps(self.to_dict(), indent=2) + "\n")


def _calibration(data: dict) -> Calibration:
    given = [k for k in ("mm_per_px", "depth_mm", "scale_points") if data.get(k) is not None]
    if len(given) > 1:
        raise ValueError(f"give one calibration, not {given}")
    if data.get("scale_points") is not None:
        points, mm = data["scale_points"], data.get("scale_mm")
        if len(points) != 2 or any(len(p) != 2 for p in points) or mm is None:
            raise ValueError('"scale_points" needs [[x1, y1], [x2, y2]] and "scale_mm", their distance in mm')
        mm = number(mm, '"scale_mm"')
        spacing = mm_per_px_from_points(tuple(points[0]), tuple(points[1]), mm)
        limits = CALIBRATION_LIMITS["mm_per_px"]
        if not limits["low"] <= spacing <= limits["high"]:
            raise ValueError(
                f'"scale_points" over "scale_mm" give {spacing:g} mm per pixel: a scanner\'s is '
                f"{limits['low']:g} to {limits['high']:g}"
            )
        return Calibration(mm_per_px=spacing)
    given = {k: data[k] for k in CALIBRATION_LIMITS if data.get(k) is not None}
    return Calibration(**{k: number(v, f'"{k}"', **CALIBRATION_LIMITS[k]) for k, v in given.items()})
