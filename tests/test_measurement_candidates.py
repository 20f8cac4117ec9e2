"""edge.measurement.candidates: band candidates, and the operator's depth range and hint choosing between them."""

import cv2
import numpy as np
import pytest
from test_measurement_identity import probability_map

from edge.core.labels import FASCIA
from edge.core.postprocess import class_map
from edge.live.pipeline import FramePipeline
from edge.live.presets import Preset
from edge.live.sinks import DisplaySink
from edge.measurement.candidates import DepthPrior, OperatorPrior, band_candidates
from edge.measurement.measure import Calibration


def fascia_rows(probs: np.ndarray) -> np.ndarray:
    return np.flatnonzero((class_map(probs) == FASCIA).all(axis=1))


def test_candidates_are_the_runs_above_the_level():
    probs = probability_map([(30, 4, 0.9), (8, 3, 0.45)])
    c = band_candidates(probs[..., FASCIA])
    assert c.col.size == 2 * 24 and list(c.start[:2]) == [8, 30] and list(c.stop[:2]) == [11, 34]
    assert c.mass[:2] == pytest.approx([1.35, 3.6])


def test_a_range_or_a_hint_keeps_the_band_the_operator_expects():
    probs = probability_map([(30, 4, 0.9), (8, 3, 0.45)])  # the model labels the deeper, stronger band
    assert list(fascia_rows(probs)) == [30, 31, 32, 33]
    roi_rows = 96  # the ROI is twice the model's rows
    shallow, share = DepthPrior(range_rows=(0, 40)).choose(probs, roi_rows)
    assert list(fascia_rows(shallow)) == [8, 9, 10] and share == 1.0  # the band inside 0-40 ROI rows (0-20 model)
    hinted, _ = DepthPrior(hint_row=20).choose(probs, roi_rows)
    assert list(fascia_rows(hinted)) == [8, 9, 10]  # nearest ROI row 20 = model row 10
    deep, _ = DepthPrior(hint_row=64).choose(probs, roi_rows)
    np.testing.assert_array_equal(deep[30:34], probs[30:34])  # the model's own band, as the model drew it
    assert list(fascia_rows(deep)) == [30, 31, 32, 33]
    none, share = DepthPrior(range_rows=(80, 96)).choose(probs, roi_rows)
    assert share == 0.0 and not (class_map(none) == FASCIA).any()  # no candidate inside: no fascia


def test_a_range_keeps_only_its_band_and_the_model_confidence_is_reported(bundled_engine):
    """A strong thin band inside the range, a longer weaker one below it: only the one inside is the fascia, in
    every column (the other becomes tissue below), and a weak band chosen by a hint keeps the model's low confidence."""
    from edge.core.roi import Box
    from edge.measurement.measure import measure

    probs = probability_map([(8, 3, 0.9), (30, 8, 0.55)])  # the model calls both fascia
    chosen, share = DepthPrior(range_rows=(0, 40)).choose(probs, 96)
    assert share == 1.0 and list(fascia_rows(chosen)) == [8, 9, 10]
    labels = cv2.resize(class_map(chosen), (24, 96), interpolation=cv2.INTER_NEAREST)
    m = measure(labels, Box.full(labels.shape), probs=probs, settled=True)
    assert m.flags == () and m.depth_px < 40 and m.pieces == 1
    weak = probability_map([(30, 4, 0.9), (8, 3, 0.3)])  # the hinted band is never the model's most likely class
    chosen, _ = DepthPrior(hint_row=18).choose(weak, 96)
    labels = cv2.resize(class_map(chosen), (24, 96), interpolation=cv2.INTER_NEAREST)
    m = measure(labels, Box.full(labels.shape), probs=weak, settled=True)
    assert m.depth_px < 30 and m.confidence == pytest.approx(0.3, abs=0.01) and "low_confidence" in m.flags


def test_operator_prior_in_mm_needs_a_calibration_and_a_sane_range():
    assert OperatorPrior(range_mm=(2, 8)).for_frame(0.1) == DepthPrior((20.0, 80.0), None)
    assert OperatorPrior(hint_mm=3).for_frame(0.1) == DepthPrior(None, 30.0)
    assert OperatorPrior().for_frame(None) is None
    with pytest.raises(ValueError, match="0 <= LO < HI"):
        OperatorPrior(range_mm=(8, 2))
    with pytest.raises(ValueError, match="needs a calibration"):
        FramePipeline(None, prior=OperatorPrior(range_mm=(2, 8)))
    with pytest.raises(ValueError, match="fascia_depth_mm"):
        Preset.from_dict({"fascia_depth_mm": 5})
    assert Preset.from_dict({"depth_mm": 40, "fascia_depth_mm": [2, 9]}).fascia_depth_mm == (2.0, 9.0)
    assert Preset.from_dict(Preset(fascia_depth_mm=(1.0, 4.0)).to_dict()).fascia_depth_mm == (1.0, 4.0)


def test_a_range_without_the_band_flags_the_frame_and_a_click_sets_the_hint(bundled_engine, phantom):
    frame = phantom.frame(0).image
    away = FramePipeline(bundled_engine, calibration=Calibration(depth_mm=40), prior=OperatorPrior(range_mm=(30, 40)))
    assert "outside_range" in away(frame).flags
    pipeline = FramePipeline(bundled_engine)
    result = pipeline(frame)
    band_row = result.roi.y + result.measurement.depth_px
    clicked = []
    sink = DisplaySink(on_click=lambda x, y: clicked.append(y) or pipeline.hint_at(y))
    sink.mouse(cv2.EVENT_MOUSEMOVE, 10, 10)  # moving the mouse is not a click
    sink.mouse(cv2.EVENT_LBUTTONDOWN, 50, int(band_row))
    assert clicked == [int(band_row)]
    assert pipeline.prior.hint_px == pytest.approx(int(band_row) - result.roi.y)
    assert pipeline(frame).flags == ()  # the band the operator pointed at is the one measured
