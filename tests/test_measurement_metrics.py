"""edge.measurement.metrics: confusion matrix, IoU/Dice by hand, and micro vs per-image set scores."""

import math

import numpy as np
import pytest

from edge.core.labels import IGNORE
from edge.measurement.metrics import SetMetrics, confusion_matrix, scores

TARGET = np.array([[0, 0, 1, 2, IGNORE, IGNORE]], np.uint8)
PRED = np.array([[0, 1, 1, 2, 0, 2]], np.uint8)


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(PRED, TARGET)
    # rows = target, columns = prediction; the two IGNORE pixels are not counted
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert cm.sum() == 4


def test_known_case_exact_scores():
    s = scores(confusion_matrix(PRED, TARGET))
    assert s["accuracy"] == pytest.approx(3 / 4)
    # above: tp 1, fn 1; fascia: tp 1, fp 1; below: tp 1
    assert s["iou"] == pytest.approx({"above": 1 / 2, "fascia": 1 / 2, "below": 1.0})
    assert s["dice"] == pytest.approx({"above": 2 / 3, "fascia": 2 / 3, "below": 1.0})
    assert s["mean_iou"] == pytest.approx(2 / 3)
    assert s["mean_dice"] == pytest.approx(7 / 9)
    assert s["pixels"] == 4


def test_perfect_prediction():
    target = np.random.default_rng(0).integers(0, 3, (40, 50)).astype(np.uint8)
    s = scores(confusion_matrix(target, target))
    assert s["accuracy"] == s["mean_iou"] == s["mean_dice"] == 1.0


def test_prediction_under_ignore_does_not_matter():
    target = np.array([[0, 1, 2, IGNORE]], np.uint8)
    a = confusion_matrix(np.array([[0, 1, 2, 0]], np.uint8), target)
    b = confusion_matrix(np.array([[0, 1, 2, 2]], np.uint8), target)
    np.testing.assert_array_equal(a, b)


def test_absent_class_is_left_out_of_the_means():
    target = np.array([[0, 0, 2, 2]], np.uint8)
    s = scores(confusion_matrix(np.array([[0, 0, 2, 0]], np.uint8), target))
    assert math.isnan(s["iou"]["fascia"]) and math.isnan(s["dice"]["fascia"])
    assert s["mean_iou"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_all_ignored_gives_nan_not_an_error():
    s = scores(confusion_matrix(np.zeros((2, 2), np.uint8), np.full((2, 2), IGNORE, np.uint8)))
    assert s["pixels"] == 0 and math.isnan(s["accuracy"]) and math.isnan(s["mean_dice"])


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.zeros((1, 2), np.uint8), np.array([[0, 3]], np.uint8))
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.array([[0, 7]], np.uint8), np.zeros((1, 2), np.uint8))


def test_set_metrics_micro_vs_per_image():
    m = SetMetrics()
    big = np.zeros((10, 10), np.uint8)  # 100 pixels, all right
    m.add("big", big, big)
    small_t = np.array([[0, 0, 2, 2]], np.uint8)  # 4 pixels, 2 wrong
    m.add("small", np.array([[0, 2, 0, 2]], np.uint8), small_t)
    s = m.summary()
    assert s["images"] == 2
    assert s["micro"]["accuracy"] == pytest.approx(102 / 104)  # pixels pooled
    assert s["per_image_mean"]["accuracy"] == pytest.approx((1.0 + 0.5) / 2)  # images weighted equally
    np.testing.assert_array_equal(m.total, [[101, 0, 1], [0, 0, 0], [1, 0, 1]])
    assert m.per_image["small"]["accuracy"] == pytest.approx(0.5)
    # fascia appears in neither image: no fascia score rather than a made-up one
    assert math.isnan(s["per_image_mean"]["fascia_dice"])


def test_fascia_dice_spread_and_worst_images():
    m = SetMetrics()
    truth = np.array([[0, 1, 1, 1, 1, 2]], np.uint8)  # 4 fascia pixels
    for name, found in (("exact", 4), ("half", 2), ("quarter", 1), ("none", 0)):
        pred = np.array([[0] + [1] * found + [2] * (5 - found)], np.uint8)
        m.add(name, pred, truth)
    m.add("no band", np.zeros((1, 3), np.uint8), np.zeros((1, 3), np.uint8))  # Dice undefined: left out
    dice = {"exact": 1.0, "half": 2 * 2 / 6, "quarter": 2 * 1 / 5, "none": 0.0}
    assert m.worst(2) == [("none", 0.0), ("quarter", pytest.approx(dice["quarter"]))]
    spread = m.summary()["fascia_dice_per_image"]
    assert spread["median"] == pytest.approx(np.median(list(dice.values())))
    assert spread["p10"] == pytest.approx(np.percentile(list(dice.values()), 10))
    assert [n for n, _ in spread["worst"]] == ["none", "quarter", "half", "exact"]
