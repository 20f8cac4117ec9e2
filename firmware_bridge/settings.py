"""What a CONFIG and a HINT ask of a session's frames, as the live runtime's `LiveSettings`: the bridge builds its
sessions' pipelines through the same builder as `tlfseg run`."""

from __future__ import annotations

import math

from edge.core.roi import Box
from edge.live.runtime import LiveSettings
from edge.measurement.candidates import OperatorPrior
from edge.measurement.measure import Calibration, MeasureConfig
from firmware_bridge.messages import Config, Hint


def calibration(config: Config) -> Calibration:
    """ValueError if both a pixel spacing and a depth are given, or either is negative."""
    return Calibration(config.mm_per_px or None, config.depth_mm or None)


def operator_prior(hint: Hint) -> OperatorPrior:
    """The prior a HINT carries (NaN: none); ValueError naming a value out of range: a range with one end NaN, not
    0 <= lo < hi, a negative or infinite depth."""
    lo, hi = hint.range_mm
    if math.isnan(lo) != math.isnan(hi):
        raise ValueError(f"depth range {lo:g}-{hi:g} mm: give both ends, or NaN for both (no range)")
    return OperatorPrior(None if math.isnan(lo) else (lo, hi), None if math.isnan(hint.hint_mm) else hint.hint_mm)


def measure_config(config: Config) -> MeasureConfig:
    """Thresholds from the CONFIG, edge.measurement.measure's defaults where it gives 0."""
    default = MeasureConfig()
    return MeasureConfig(
        min_coverage=config.min_coverage or default.min_coverage,
        min_confidence=config.min_confidence or default.min_confidence,
    )


def live_settings(config: Config, gliding: bool = False, prior: OperatorPrior | None = None) -> LiveSettings:
    """The session's settings: CONFIG's fixed ROI (or the B-mode area detected on the first frame and tracked),
    calibration and thresholds, gliding where the HELLO asked for it, the HINT's depth prior; ValueError naming a
    value that cannot be (a prior in mm without a calibration)."""
    prior = prior or OperatorPrior()
    return LiveSettings(
        roi=Box(*config.roi) if config.fixed_roi else None,
        calibration=calibration(config),
        measure=measure_config(config),
        gliding=gliding,
        fascia_depth_mm=prior.range_mm,
        hint_depth_mm=prior.hint_mm,
    )
