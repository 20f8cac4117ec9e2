"""benchmarks/resolution_ceiling.py: perfect soft predictions, and their trip back to the native frame."""

import numpy as np
import pytest

pytest.importorskip("tf_keras", reason="the soft targets come from the training pipeline ('train' extra)")

from benchmarks.resolution_ceiling import perfect_probabilities
from edge.core.labels import ABOVE, BELOW, FASCIA, IGNORE  # noqa: E402
from edge.core.postprocess import to_native  # noqa: E402
from edge.core.roi import Box  # noqa: E402


def test_perfect_probabilities_are_class_fractions_of_labelled_pixels():
    labels = np.array([[ABOVE, ABOVE, IGNORE, BELOW], [FASCIA, ABOVE, BELOW, BELOW]], np.uint8)
    probs = perfect_probabilities(labels, 2)
    np.testing.assert_allclose(probs[0, 0], [0.75, 0.25, 0.0])
    np.testing.assert_allclose(probs[0, 1], [0.0, 0.0, 1.0])  # the unlabelled pixel does not count


def test_at_stride_one_the_native_labels_come_back_exactly():
    labels = np.full((40, 30), ABOVE, np.uint8)
    labels[12:17] = FASCIA
    labels[17:] = BELOW
    probs = perfect_probabilities(labels, 1)
    np.testing.assert_array_equal(to_native(probs, Box(0, 0, 30, 40), labels.shape), labels)
