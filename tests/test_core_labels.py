"""edge.core.labels: the column-wise band -> 3-class rule, and label validation."""

import numpy as np
import pytest

from edge.core.labels import ABOVE, BELOW, FASCIA, IGNORE, band_mask_to_classes, validate_labels

A, F, B, X = ABOVE, FASCIA, BELOW, IGNORE


def columns(*cols: list[int]) -> np.ndarray:
    """A band mask whose columns are the given lists (top to bottom)."""
    return np.array(cols, dtype=np.uint8).T


def test_band_mask_columns_by_hand():
    band = columns(
        [0, 0, 1, 1, 0, 0],  # one band in the middle
        [1, 1, 0, 0, 0, 0],  # band at the top: nothing above
        [0, 0, 0, 0, 1, 1],  # band reaching the bottom: nothing below
        [0, 1, 0, 1, 1, 0],  # two bands: the top one is fascia, the deeper one is below
        [0, 0, 0, 0, 0, 0],  # no band: ignored
        [0, 0, 255, 7, 0, 0],  # any non-zero value is band
    )
    expected = columns(
        [A, A, F, F, B, B],
        [F, F, B, B, B, B],
        [A, A, A, A, F, F],
        [A, F, B, B, B, B],
        [X, X, X, X, X, X],
        [A, A, F, F, B, B],
    )
    out = band_mask_to_classes(band)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_band_mask_all_empty_is_all_ignore():
    assert (band_mask_to_classes(np.zeros((5, 4), np.uint8)) == IGNORE).all()


def test_band_mask_full_column_is_all_fascia():
    np.testing.assert_array_equal(band_mask_to_classes(np.ones((4, 1), np.uint8)), [[F]] * 4)


def test_band_mask_must_be_2d():
    with pytest.raises(ValueError, match="2-D"):
        band_mask_to_classes(np.zeros((4, 4, 3), np.uint8))


def test_validate_labels():
    validate_labels(np.array([[A, F, B, X]], np.uint8))
    with pytest.raises(ValueError, match=r"unknown label values \[3, 128\]"):
        validate_labels(np.array([[A, 3, 128]], np.uint8), "m.png")
