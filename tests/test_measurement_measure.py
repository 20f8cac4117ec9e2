"""edge.measurement.measure: perpendicular fascia thickness, calibration, echogenicity, coverage, confidence, flags."""

import math

import numpy as np
import pytest

from edge.core.labels import ABOVE, BELOW, FASCIA, band_mask_to_classes
from edge.core.roi import Box, detect_bmode_roi
from edge.measurement.measure import (
    Calibration,
    MeasureConfig,
    fascia_runs,
    measure,
    mm_per_px_from_depth,
    mm_per_px_from_points,
    percentiles,
)


def band_labels(h: int, w: int, top, thickness: float, columns: slice = slice(None)) -> np.ndarray:
    """3-class labels of a band whose top row is `top(x)` and vertical thickness `thickness`."""
    rows = np.arange(h)[:, None]
    t = np.asarray(top(np.arange(w, dtype=float)), float)[None, :]
    band = ((rows >= t) & (rows < t + thickness)).astype(np.uint8)
    keep = np.zeros(w, bool)
    keep[columns] = True
    band[:, ~keep] = 0
    return band_mask_to_classes(band)


def test_horizontal_band_of_known_thickness():
    labels = band_labels(120, 200, lambda x: 40 + 0 * x, 9)
    m = measure(labels, Box.full(labels.shape))
    assert m.thickness_px == 9 and m.vertical_px == 9 and m.spread_px["iqr"] == 0
    assert m.coverage == 1.0 and m.confidence is None and m.good and m.flags == ()
    assert np.all(m.columns_px == 9)


@pytest.mark.parametrize(("slope", "vertical"), [(0.2, 10), (-0.45, 8), (0.8, 12.5), (1.5, 20)])
def test_slanted_band_is_measured_perpendicular_to_it(slope, vertical):
    labels = band_labels(300, 240, lambda x: 110 + slope * (x - 120), vertical)
    m = measure(labels, Box.full(labels.shape))
    true_perpendicular = vertical * math.cos(math.atan(slope))
    assert abs(m.thickness_px - true_perpendicular) < 0.5
    assert abs(m.vertical_px - vertical) <= 1  # what a vertical count would (wrongly) report
    assert m.thickness_px < m.vertical_px - 0.5 * (m.vertical_px - true_perpendicular)


def test_curved_phantom_band_against_its_true_normal_thickness(phantom):
    frame = phantom.frame(7)
    m = measure(frame.labels, frame.roi)
    top = phantom.band_top(7)
    slope = np.gradient(top)
    truth = np.median(frame.thickness_px / np.sqrt(1 + slope**2))
    assert abs(m.thickness_px - truth) < 0.5
    assert m.coverage == 1.0


def test_roi_restricts_the_measurement_and_coverage():
    labels = band_labels(100, 200, lambda x: 30 + 0 * x, 6, columns=slice(0, 60))
    whole = measure(labels, Box.full(labels.shape))
    assert whole.coverage == pytest.approx(0.3) and whole.flags == ("low_coverage",) and not whole.good
    inside = measure(labels, Box(0, 0, 80, 100))
    assert inside.coverage == pytest.approx(0.75) and inside.good
    assert measure(labels, Box(0, 0, 80, 100), config=MeasureConfig(min_coverage=0.8)).flags == ("low_coverage",)


def test_no_fascia_is_flagged_not_measured():
    labels = np.full((50, 60), ABOVE, np.uint8)
    labels[30:] = BELOW
    m = measure(labels, Box.full(labels.shape))
    assert m.flags == ("no_fascia",) and not m.good and m.thickness_px is None and m.thickness_mm is None
    assert m.coverage == 0.0 and m.to_dict()["good"] is False


def test_a_band_broken_into_several_is_flagged_fragmented():
    labels = band_labels(100, 200, lambda x: 40 + 0 * x, 8)
    whole = measure(labels, Box.full(labels.shape))
    assert whole.fragmented == 0.0 and whole.good
    labels[20:24, :40] = FASCIA  # a second band above the true one in 40 of 200 columns: 20 %
    broken = measure(labels, Box.full(labels.shape))
    assert broken.fragmented == pytest.approx(0.2) and broken.flags == ("fragmented",) and not broken.good
    assert broken.thickness_px == 8  # the longest run is still measured; the flag says not to trust the frame
    assert broken.to_dict()["fragmented"] == 0.2
    assert measure(labels, Box.full(labels.shape), config=MeasureConfig(max_fragmented=0.25)).good
    labels[60, 100:110] = FASCIA  # a speck below in 10 more columns: 25 %
    assert measure(labels, Box.full(labels.shape)).fragmented == pytest.approx(0.25)


def test_confidence_from_probabilities_and_low_confidence_flag():
    labels = band_labels(64, 64, lambda x: 20 + 0 * x, 5)
    probs = np.zeros((32, 32, 3), np.float32)
    probs[..., ABOVE] = 1.0
    probs[10:13, :, :] = (0.2, 0.7, 0.1)  # fascia pixels, max prob 0.7
    probs[12, :5] = (0.1, 0.9, 0.0)
    m = measure(labels, Box.full(labels.shape), probs=probs)
    expected = (0.7 * (3 * 32 - 5) + 0.9 * 5) / (3 * 32)
    assert m.confidence == pytest.approx(expected, abs=1e-6) and m.good
    weak = probs.copy()
    weak[10:13, :, :] = (0.35, 0.4, 0.25)
    m = measure(labels, Box.full(labels.shape), probs=weak)
    assert m.confidence == pytest.approx(0.4) and m.flags == ("low_confidence",)
    none = measure(labels, Box.full(labels.shape), probs=np.eye(3, dtype=np.float32)[np.zeros((32, 32), int)])
    assert none.confidence == 0.0 and "low_confidence" in none.flags


def test_echogenicity_inside_above_and_below():
    labels = band_labels(80, 50, lambda x: 30 + 0 * x, 6)
    grey = np.where(labels == FASCIA, 200, np.where(labels == ABOVE, 90, 40)).astype(np.uint8)
    m = measure(labels, Box.full(labels.shape), grey=grey)
    assert m.echo == {"fascia": 200.0, "above": 90.0, "below": 40.0}


def test_echogenicity_is_of_the_measured_band():
    """A fascia fragment under the band is not the band that was measured: its pixels count as below."""
    labels = band_labels(60, 40, lambda x: 20 + 0 * x, 5)
    labels[40:42] = FASCIA  # a thinner stray fragment on a bright fibre
    grey = np.where(labels == FASCIA, 200, np.where(labels == ABOVE, 90, 40)).astype(np.uint8)
    m = measure(labels, Box.full(labels.shape), grey=grey)
    assert m.thickness_px == 5
    assert m.echo == pytest.approx({"fascia": 200.0, "above": 90.0, "below": (33 * 40 + 2 * 200) / 35})


def test_echogenicity_sums_do_not_overflow_on_huge_frames():
    labels = band_labels(2200, 4000, lambda x: 1000 + 0 * x, 50)
    m = measure(labels, Box.full(labels.shape), grey=np.full(labels.shape, 255, np.uint8))
    assert m.echo == {"fascia": 255.0, "above": 255.0, "below": 255.0}


def test_measures_the_roi_alone_as_the_whole_frame():
    """`Segmentation.roi_labels` (the ROI's map) measures exactly as the whole-frame map does."""
    labels = band_labels(90, 70, lambda x: 30 + 0.3 * x, 7)
    grey = np.random.default_rng(0).integers(0, 256, labels.shape, dtype=np.uint8)
    roi = Box(10, 5, 50, 80)
    whole, alone = measure(labels, roi, grey), measure(labels[roi.slices], roi, grey)
    assert whole.to_dict() == alone.to_dict()
    np.testing.assert_array_equal(whole.columns_px, alone.columns_px)
    with pytest.raises(ValueError, match="outside"):
        measure(labels[:20], roi)


def test_calibrations():
    assert mm_per_px_from_depth(40.0, 400) == pytest.approx(0.1)
    assert mm_per_px_from_points((10, 20), (10, 120), 10.0) == pytest.approx(0.1)
    assert mm_per_px_from_points((0, 0), (30, 40), 5.0) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        mm_per_px_from_points((1, 1), (1, 1), 10.0)
    with pytest.raises(ValueError, match="either"):
        Calibration(mm_per_px=0.1, depth_mm=40)
    with pytest.raises(ValueError, match="positive"):
        Calibration(depth_mm=0)
    roi = Box(0, 0, 300, 500)
    assert Calibration(depth_mm=50).mm_per_px_for(roi) == pytest.approx(0.1)
    assert Calibration(mm_per_px=0.2).mm_per_px_for(roi) == 0.2 and Calibration().mm_per_px_for(roi) is None
    labels = band_labels(100, 100, lambda x: 40 + 0 * x, 8)
    m = measure(labels, Box.full(labels.shape), mm_per_px=0.125)
    assert m.thickness_mm == pytest.approx(1.0) and m.to_dict()["thickness_mm"] == 1.0


def first_band_run(column: np.ndarray) -> int:
    """Length of the first contiguous run of band pixels in a mask column, by a plain loop."""
    rows = np.flatnonzero(column)
    if rows.size == 0:
        return 0
    n = 1
    while n < rows.size and rows[n] == rows[0] + n:
        n += 1
    return n


def longest_run_by_loop(column: np.ndarray) -> tuple[int, int, int]:
    """(top row, length) of the topmost longest FASCIA run in a label column, (0, 0) where none, and the number of
    runs, by a plain loop."""
    best_top = best_len = runs = 0
    row = 0
    while row < column.size:
        if column[row] != FASCIA:
            row += 1
            continue
        top, runs = row, runs + 1
        while row < column.size and column[row] == FASCIA:
            row += 1
        if row - top > best_len:
            best_top, best_len = top, row - top
    return best_top, best_len, runs


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_percentiles_equal_numpys(n):
    values = np.random.default_rng(n).normal(10.0, 3.0, n)
    q = np.array([0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 100.0])
    np.testing.assert_allclose(percentiles(values, q), np.percentile(values, q), rtol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_fascia_runs_equal_a_plain_loop_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 60, size=2))
    labels = rng.choice(np.array([ABOVE, FASCIA, BELOW], np.uint8), size=(h, w), p=rng.dirichlet([1, 1, 1]))
    labels[:, rng.random(w) < 0.2] = FASCIA  # whole-column runs, touching the top and the bottom
    labels[:, rng.random(w) < 0.2] = BELOW  # columns without fascia
    view = np.pad(labels, 3, constant_values=ABOVE)[3:-3, 3:-3]  # a non-contiguous view, as measure passes
    top, length, count = fascia_runs(view)
    truth = np.array([longest_run_by_loop(labels[:, x]) for x in range(w)]).reshape(w, 3)
    np.testing.assert_array_equal(top, truth[:, 0])
    np.testing.assert_array_equal(length, truth[:, 1])
    np.testing.assert_array_equal(count, truth[:, 2])
    long_top, long_length, _ = fascia_runs(labels, min_run=3)
    np.testing.assert_array_equal(long_length, np.where(truth[:, 1] >= 3, truth[:, 1], 0))
    np.testing.assert_array_equal(long_top, np.where(truth[:, 1] >= 3, truth[:, 0], 0))


def test_echogenicity_counts_only_columns_with_fascia():
    labels = band_labels(40, 30, lambda x: 10 + 0 * x, 4, columns=slice(0, 20))
    grey = np.where(labels == FASCIA, 180, np.where(labels == ABOVE, 70, 30)).astype(np.uint8)
    grey[:, 20:] = 255  # columns without fascia: must not count
    grey[0, :20] = 100  # above: (100 + 9 * 70) / 10 = 73
    m = measure(labels, Box.full(labels.shape), grey=grey)
    assert m.echo == pytest.approx({"fascia": 180.0, "above": 73.0, "below": 30.0})
    only_fascia = np.full((6, 5), FASCIA, np.uint8)
    assert measure(only_fascia, Box.full(only_fascia.shape), grey=np.full((6, 5), 9, np.uint8)).echo == {
        "fascia": 9.0,
        "above": None,
        "below": None,
    }


@pytest.fixture(scope="module")
def real_pairs(real_layouts, real_data_dir):
    """One real image per scanner layout, with its band mask."""
    from edge.core.imagefiles import read_image

    out = []
    for paths in real_layouts.values():
        image = read_image(paths[0])
        mask = read_image(real_data_dir / "masks" / paths[0].name)
        out.append((paths[0].name, image, mask if mask.ndim == 2 else mask[..., 0]))
    return out


@pytest.mark.realdata
def test_thickness_on_real_label_maps_equals_the_masks(real_pairs):
    for name, image, mask in real_pairs:
        roi = detect_bmode_roi(image)
        labels = band_mask_to_classes(mask)
        m = measure(labels, roi, grey=image if image.ndim == 2 else image[..., 1])
        truth = np.array([first_band_run(mask[roi.slices][:, x]) for x in range(roi.w)])
        runs = fascia_runs(labels[roi.slices]).length
        np.testing.assert_array_equal(runs, truth, err_msg=name)
        np.testing.assert_array_equal(np.isfinite(m.columns_px), truth > 0, err_msg=name)
        assert (m.columns_px[truth > 0] <= truth[truth > 0] + 1e-9).all(), name
        assert m.vertical_px == np.median(truth[truth > 0]), name
        assert m.coverage == pytest.approx((truth > 0).mean()), name
        assert m.thickness_px <= m.vertical_px and m.echo["fascia"] is not None, name


@pytest.mark.realdata
def test_measuring_the_model_prediction_runs_and_flags(real_pairs, bundled_engine):
    from edge.live.pipeline import FramePipeline

    pipeline = FramePipeline(bundled_engine, video=False, calibration=Calibration(mm_per_px=0.1))
    for name, image, _ in real_pairs:
        seg = pipeline(image)
        m = seg.measurement
        again = measure(seg.labels, seg.roi, seg.grey, seg.probs, mm_per_px=0.1)  # from the whole-frame map
        assert m.to_dict() == again.to_dict(), name
        assert set(m.flags) <= {
            "no_fascia",
            "low_coverage",
            "low_confidence",
            "fragmented",
            "ambiguous",
            "discontinuous",
        }, name
        assert m.good == (not m.flags) and 0 <= m.coverage <= 1 and 0 <= m.confidence <= 1, name
        if m.good:
            assert m.thickness_mm == pytest.approx(m.thickness_px * 0.1)


def test_echogenicity_without_a_band_is_empty():
    from edge.measurement.measure import echogenicity

    empty = np.zeros(7, np.intp)
    assert echogenicity(np.full((5, 7), 9, np.uint8), empty, empty) == {"fascia": None, "above": None, "below": None}
