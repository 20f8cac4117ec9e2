"""edge.measurement.identity and the `ambiguous` flag: is the predicted band the labelled one, and does the runtime
know when two structures compete?"""

import numpy as np
import pytest

from edge.core.labels import ABOVE, BELOW, FASCIA
from edge.core.roi import Box
from edge.measurement.identity import IdentityTally, band_identity
from edge.measurement.measure import MeasureConfig, contested_columns, measure, winning_structure


def band_map(top: int, thickness: int, shape=(100, 60)) -> np.ndarray:
    labels = np.full(shape, ABOVE, np.uint8)
    labels[top : top + thickness] = FASCIA
    labels[top + thickness :] = BELOW
    return labels


def test_a_band_at_the_labelled_depth_is_right_and_one_elsewhere_is_wrong():
    truth = band_map(60, 8)
    right = band_identity(band_map(61, 8), truth, 0.8)
    assert not right.wrong and right.depth_error_px == pytest.approx(1.0) and right.thickness_px == 8
    elsewhere = band_identity(band_map(20, 8), truth, 0.8)  # as thick as the right one, 40 rows higher
    assert elsewhere.wrong and elsewhere.depth_error_px == pytest.approx(40.0)
    assert band_identity(band_map(61, 8), truth, 0.2).wrong  # a low Dice alone is enough
    none = band_identity(np.full(truth.shape, ABOVE, np.uint8), truth, 0.0)
    assert none.wrong and none.depth_error_px is None
    assert band_identity(truth, np.full(truth.shape, 255, np.uint8), 1.0) is None  # nothing labelled: not counted


def test_tally_counts_wrong_frames_reported_good_and_right_frames_flagged():
    truth = band_map(60, 8)
    tally = IdentityTally()
    tally.add("right", band_identity(band_map(60, 8), truth, 0.9), ())
    tally.add("right_flagged", band_identity(band_map(60, 8), truth, 0.9), ("low_confidence",))
    tally.add("wrong_good", band_identity(band_map(10, 8), truth, 0.0), ())
    tally.add("wrong_caught", band_identity(band_map(10, 8), truth, 0.0), ("ambiguous",))
    s = tally.summary()
    assert (s["frames"], s["wrong"], s["wrong_good"], s["right_flagged"]) == (4, 2, 1, 1)
    assert s["wrong_share"] == 0.5 and s["wrong_good_share"] == 0.25 and s["right_flagged_share"] == 0.5
    assert s["wrong_good_frames"] == ["wrong_good"]
    rules = {r["rule"]: r for r in s["risk_coverage"]}
    assert rules["nothing refused"] == {"rule": "nothing refused", "coverage": 1.0, "risk": 0.5}
    assert rules["ambiguous alone"]["coverage"] == 0.75 and rules["ambiguous alone"]["risk"] == pytest.approx(1 / 3)
    assert rules["every flag (the runtime)"] == {"rule": "every flag (the runtime)", "coverage": 0.5, "risk": 0.5}


def probability_map(bands: list[tuple[int, int, float]], shape=(48, 24)) -> np.ndarray:
    """(H, W, 3) probabilities with fascia bands (top, thickness, peak) across every column."""
    probs = np.zeros((*shape, 3), np.float32)
    probs[..., ABOVE] = 1.0
    for top, thickness, peak in bands:
        probs[top : top + thickness, :, FASCIA] = peak
        probs[top : top + thickness, :, ABOVE] = 1 - peak
    return probs


def test_a_second_band_candidate_makes_a_frame_ambiguous():
    one = probability_map([(30, 4, 0.9)])
    assert contested_columns(one[..., FASCIA]) == 0.0
    faint_second = probability_map([(30, 4, 0.9), (8, 4, 0.2)])  # below the candidate level: no rival
    assert contested_columns(faint_second[..., FASCIA]) == 0.0
    rival = probability_map([(30, 4, 0.9), (8, 3, 0.6)])  # 1.8 of 3.6 in mass: half, a rival
    assert contested_columns(rival[..., FASCIA]) == 1.0
    half = rival.copy()
    half[:, 12:, FASCIA] = one[:, 12:, FASCIA]  # the rival in half of the columns only
    assert contested_columns(half[..., FASCIA]) == 0.5
    assert contested_columns(np.zeros((8, 8), np.float32)) is None
    labels = np.full((48, 24), ABOVE, np.uint8)
    labels[30:34], labels[34:] = FASCIA, BELOW
    roi = Box(0, 0, 24, 48)
    assert "ambiguous" in measure(labels, roi, probs=rival).flags
    assert measure(labels, roi, probs=one).flags == ()
    assert measure(labels, roi, probs=one).depth_px == pytest.approx(31.5)


def test_a_band_in_two_pieces_at_different_depths_is_discontinuous():
    """The model marks a line at the top of the image in half the columns and the band below in the others: two
    structures, not one slanted fascia (a slope, however steep, moves the centre a little from column to column)."""
    from edge.measurement.measure import band_pieces

    labels = band_map(60, 8)
    labels[:, :30] = ABOVE
    labels[2:10, :30] = FASCIA
    labels[10:, :30] = BELOW
    m = measure(labels, Box.full(labels.shape))
    assert m.pieces == 2 and "discontinuous" in m.flags
    slope = np.full((100, 60), ABOVE, np.uint8)
    for col in range(60):
        slope[20 + col : 28 + col, col], slope[28 + col :, col] = FASCIA, BELOW
    assert measure(slope, Box.full(slope.shape)).pieces == 1 and measure(slope, Box.full(slope.shape)).flags == ()
    cols = np.arange(60)
    assert band_pieces(cols, np.r_[np.full(57, 60.0), np.full(3, 5.0)], 8.0) == (1, 0.95)  # a stray speck: no piece
    shadow = np.r_[np.arange(0, 20), np.arange(60, 100)]  # a slope of 0.5 px a column, hidden for 40 columns
    assert band_pieces(shadow, 30 + 0.5 * shadow, 8.0) == (1, 1.0)
    zigzag = np.tile(np.r_[np.full(5, 20.0), np.full(5, 60.0)], 6)  # 12 pieces of 8 %: no piece counts, but broken
    pieces, largest = band_pieces(cols, zigzag, 8.0)
    assert pieces == 1 and largest < 0.9


def _two_lines(gap: int, second: int) -> tuple[np.ndarray, np.ndarray]:
    """A 6-row band at rows 40-45 (grey 200) over speckle, a second line `gap` rows below it of grey `second`; the
    class map marks the upper one."""
    grey = np.random.default_rng(3).integers(30, 70, (160, 120)).astype(np.uint8)
    grey[40:46] = 200
    grey[46 + gap : 52 + gap] = second
    labels = np.full(grey.shape, ABOVE, np.uint8)
    labels[40:46], labels[46:] = FASCIA, BELOW
    return grey, labels


def test_a_second_line_close_beside_the_band_is_flagged_unless_faint_far_or_settled():
    """Two bright lines a few rows apart: either could be the fascia (`second_line`, a doubt about identity)."""
    from edge.measurement.lines import rival_line

    roi, on = Box(0, 0, 120, 160), MeasureConfig(max_line_rival=0.9)
    grey, labels = _two_lines(10, 200)
    assert "second_line" in measure(labels, roi, grey, config=on).flags
    assert measure(labels, roi, grey).flags == ()  # off by default
    assert "second_line" not in measure(labels, roi, grey, config=on, settled=True).flags  # the operator chose
    faint, _ = _two_lines(10, 90)
    assert "second_line" not in measure(labels, roi, faint, config=on).flags
    far, _ = _two_lines(40, 200)  # 40 rows: more than 3 band thicknesses away
    assert "second_line" not in measure(labels, roi, far, config=on).flags
    one = grey.copy()
    one[56:62] = one[70:76]  # speckle where the second line was
    assert measure(labels, roi, one, config=on).flags == ()
    found = np.ones(120, bool)
    assert rival_line(grey, np.full(120, 42.5), found, 6.0) == pytest.approx(1.0, abs=0.15)
    assert rival_line(one, np.full(120, 42.5), found, 6.0) < 0.5


def two_pieces(split: int, faint: float) -> tuple[np.ndarray, np.ndarray]:
    """A 60-column map: an 8-row band at row 60 in columns `split`.., a 4-row line at row 4 in the columns before it,
    and model probabilities (24 x 30 cells) in which the line's fascia probability is `faint`."""
    labels = band_map(60, 8)
    labels[:, :split] = ABOVE
    labels[4:8, :split] = FASCIA
    labels[8:, :split] = BELOW
    probs = np.zeros((25, 30, 3), np.float32)
    probs[..., BELOW] = 1.0
    probs[15:17, split // 2 :] = (0.05, 0.9, 0.05)
    probs[1, : split // 2] = (1 - faint, faint, 0.0)
    return labels, probs


def test_a_band_with_a_faint_piece_elsewhere_is_measured_on_its_winning_piece():
    """The model marks the band in most columns and a faint line near the top in the rest: the band is measured alone
    (`partial`, a good measurement, its coverage the band's), not refused; with no clear winner it is refused."""
    labels, probs = two_pieces(12, 0.55)
    roi = Box.full(labels.shape)
    m = measure(labels, roi, probs=probs)
    assert m.good and m.flags == ("partial",) and m.pieces == 2
    assert m.coverage == pytest.approx(48 / 60) and m.thickness_px == pytest.approx(8.0) and m.depth_px == 63.5
    assert m.confidence == pytest.approx(0.9, abs=0.01)  # the measured piece's cells only
    even, even_probs = two_pieces(30, 0.9)  # half and half, equally sure: no piece wins
    assert "discontinuous" in measure(even, roi, probs=even_probs).flags
    assert measure(labels, roi).flags == ("discontinuous",)  # no probabilities: a 20 % piece is a rival
    speck, _ = two_pieces(6, 0.9)  # a piece of 10 %: under the rival share, whatever its probability
    assert measure(speck, roi).flags == ("partial",) and measure(speck, roi).coverage == pytest.approx(0.9)


def at(depth: float, reach: float = 12.0):
    """A stream's track (`BandTracker.at_track`) at `depth`, reaching `reach` rows either side."""
    return lambda d, thickness: abs(d - depth) <= reach


def test_on_a_stream_the_track_breaks_a_tie_in_certainty():
    """A line in 40 % of the columns as sure as the band in the rest: refused on its own; on a stream whose band has
    been at the band's depth the band is measured alone (`partial`). A track at the line (not the larger), between
    or away from both, a band holding under half the columns, or a rival the model is surer of: still refused."""
    labels, probs = two_pieces(24, 0.9)
    roi = Box.full(labels.shape)
    assert "discontinuous" in measure(labels, roi, probs=probs).flags
    m = measure(labels, roi, probs=probs, track=at(62.0))
    assert m.good and m.flags == ("partial",) and m.depth_px == 63.5 and m.coverage == pytest.approx(36 / 60)
    for track in (5.0, 35.0, 120.0):
        assert "discontinuous" in measure(labels, roi, probs=probs, track=at(track)).flags
    minority, minority_probs = two_pieces(36, 0.9)  # the band in 40 % of the columns
    assert "discontinuous" in measure(minority, roi, probs=minority_probs, track=at(62.0)).flags
    surer, surer_probs = two_pieces(24, 0.99)
    surer_probs[15:17, 12:] = (0.15, 0.7, 0.15)  # the band at 0.7, the line at 0.99
    assert "discontinuous" in measure(surer, roi, probs=surer_probs, track=at(62.0)).flags


def test_a_track_that_reaches_two_structures_names_neither():
    ids, centre = np.repeat([0, 1], [30, 20]), np.repeat([40.0, 58.0], [30, 20])
    args = (ids, centre, np.ones(50), 16.0, MeasureConfig(), 8.0)
    assert winning_structure(*args, track=at(49.0)) is None
    assert winning_structure(*args, track=at(40.0)).tolist() == [True] * 30 + [False] * 20


def test_the_band_on_both_sides_of_an_intruding_piece_is_one_structure():
    """The band in columns 0-24 and 36-59, a faint line near the top in 25-35: the band's two pieces lie at one
    depth, so they are measured together, the line left out."""
    labels = band_map(60, 8)
    labels[:, 25:36] = ABOVE
    labels[4:8, 25:36] = FASCIA
    labels[8:, 25:36] = BELOW
    probs = np.zeros((25, 30, 3), np.float32)
    probs[..., BELOW] = 1.0
    probs[15:17, :12] = probs[15:17, 18:] = (0.05, 0.9, 0.05)
    probs[1, 12:18] = (0.5, 0.5, 0.0)
    m = measure(labels, Box.full(labels.shape), probs=probs)
    assert m.flags == ("partial",) and m.pieces == 3 and m.coverage == pytest.approx(49 / 60) and m.depth_px == 63.5


def test_a_band_split_by_a_thin_dark_line_is_one_band():
    """The fascia's own layers: two runs 2 rows apart in every column are one 12-row band, not `fragmented`."""
    labels = band_map(60, 12)
    labels[65:67] = ABOVE  # a thin dark line inside the band
    m = measure(labels, Box.full(labels.shape))
    assert m.flags == () and m.thickness_px == pytest.approx(12.0)
    apart = band_map(60, 6)
    apart[76:82] = FASCIA  # a second band 10 rows below: another structure in every column
    assert "fragmented" in measure(apart, Box.full(apart.shape)).flags
