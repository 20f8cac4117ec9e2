"""Polygons <-> band masks (quantization.labelling.geometry): a pixel is inside when its centre is, exactly."""

import math

import numpy as np

from edge.core.labels import ABOVE, FASCIA, band_mask_to_classes
from quantization.labelling.geometry import MIN_COLUMNS, band_outlines, rasterize, stacked_columns


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def test_a_box_with_integer_corners_covers_exactly_its_pixels():
    mask = rasterize([box(2, 3, 7, 9)], (12, 10))
    expected = np.zeros((12, 10), bool)
    expected[3:9, 2:7] = True  # a boundary at y = 3 is the top edge of row 3; y = 9 the top edge of row 9
    assert np.array_equal(mask, expected)
    # the same box in the other winding order, and two boxes sharing an edge share no pixel
    assert np.array_equal(rasterize([box(2, 3, 7, 9)[::-1]], (12, 10)), expected)
    assert np.count_nonzero(rasterize([box(0, 0, 5, 12)], (12, 10)) & rasterize([box(5, 0, 10, 12)], (12, 10))) == 0


def test_a_sloping_boundary_takes_the_rows_whose_centres_lie_below_it():
    h, w = 40, 30
    upper = [(0.0, 10.0), (30.0, 17.5)]  # y = 10 + x / 4
    mask = rasterize([np.array([*upper, (30.0, 30.0), (0.0, 30.0)])], (h, w))
    for j in range(w):
        top = math.ceil(10 + (j + 0.5) / 4 - 0.5)  # first row whose centre is at or below the line
        assert np.flatnonzero(mask[:, j]).tolist() == list(range(top, 30)), j


def test_a_polygon_beyond_the_image_is_clipped_and_polygons_are_united():
    mask = rasterize([box(-5, -5, 3, 2), box(8, 8, 20, 20)], (10, 10))
    expected = np.zeros((10, 10), bool)
    expected[0:2, 0:3] = True
    expected[8:, 8:] = True
    assert np.array_equal(mask, expected)


def wavy_band(h=60, w=80, seed=0):
    rng = np.random.default_rng(seed)
    top = (20 + 5 * np.sin(np.arange(w) / 7)).astype(int)
    band = np.zeros((h, w), bool)
    for j, t in enumerate(rng.integers(3, 8, w)):
        band[top[j] : top[j] + t, j] = True
    return band


def test_band_outlines_without_simplification_draw_back_exactly_the_band():
    band = wavy_band()
    band[:, :5] = False  # a band that does not start at the image's edge
    outlines = band_outlines(band_mask_to_classes(band.astype(np.uint8)), tolerance=0)
    assert len(outlines) == 1
    assert np.array_equal(rasterize(outlines, band.shape), band)


def test_band_outlines_simplified_stay_within_a_row_and_use_few_vertices():
    top = (20 + 4 * np.sin(np.arange(300) / 40)).astype(int)
    band = np.zeros((60, 300), bool)
    for j, t in enumerate(top):
        band[t : t + 8, j] = True
    (outline,) = band_outlines(band_mask_to_classes(band.astype(np.uint8)), tolerance=1.0)
    drawn = rasterize([outline], band.shape)
    assert np.abs(np.argmax(drawn, axis=0) - top).max() <= 1
    assert np.abs(drawn.sum(axis=0) - 8).max() <= 2
    assert len(outline) < 60  # a vertex every few columns at most, not one per column (300)


def test_each_piece_is_its_own_polygon_and_specks_are_left_out():
    band = np.zeros((40, 60), bool)
    band[10:14, 0:20] = True
    band[25:30, 30:60] = True
    band[5:7, 40 : 40 + MIN_COLUMNS - 1] = True  # a speck, above the second piece
    outlines = band_outlines(np.where(band, FASCIA, ABOVE), tolerance=0)
    assert len(outlines) == 2
    band[5:7, 40 : 40 + MIN_COLUMNS - 1] = False
    assert np.array_equal(rasterize(outlines, band.shape), band)


def test_stacked_columns_finds_two_bands_one_above_the_other():
    band = np.zeros((30, 20), bool)
    band[5:8, :] = True
    band[15:18, 12:16] = True
    assert stacked_columns(band).tolist() == [12, 13, 14, 15]
