"""quantization.data: the dl_track_apo importer, annotation-tool folders (0/1/2 PNGs or colours), bad inputs."""

import json

import cv2
import numpy as np
import pytest

from edge.core.labels import ABOVE, BELOW, FASCIA, IGNORE
from quantization.data import DataError, Sample, load_arrays, load_folder, read_labels

SIZE = (64, 64)


def test_dl_track_band_mask_to_classes_on_a_real_mask(real_data_dir):
    mask_path = real_data_dir / "masks" / "img_00011.png"
    band = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 0
    labels = read_labels(Sample("img_00011", real_data_dir / "images" / "img_00011.png", mask_path, "band"))
    assert labels.shape == band.shape and labels.dtype == np.uint8
    has_band = band.any(axis=0)
    assert 0 < has_band.sum() < band.shape[1]  # this capture has unlabelled margins
    np.testing.assert_array_equal(labels[:, ~has_band], IGNORE)
    for col in np.flatnonzero(has_band)[::25]:
        top = int(np.argmax(band[:, col]))
        end = top + int(np.argmin(band[top:, col])) if not band[top:, col].all() else band.shape[0]
        assert (labels[:top, col] == ABOVE).all()
        assert (labels[top:end, col] == FASCIA).all()
        assert (labels[end:, col] == BELOW).all()  # deeper bands included
    assert (labels == BELOW).sum() > (labels == FASCIA).sum() > 0


def _write_pairs(root, masks: dict[str, np.ndarray]):
    images, mask_dir = root / "images", root / "masks"
    images.mkdir()
    mask_dir.mkdir()
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        cv2.imwrite(str(images / f"{name}.png"), rng.integers(0, 255, mask.shape[:2], np.uint8))
        cv2.imwrite(str(mask_dir / f"{name}.png"), mask)
    return images, mask_dir


def _classes(h=80, w=96) -> np.ndarray:
    m = np.full((h, w), BELOW, np.uint8)
    m[:30], m[30:40] = ABOVE, FASCIA
    return m


def test_apeer_folder_with_class_values(tmp_path):
    good = _classes()
    with_ignore = good.copy()
    with_ignore[:, :10] = IGNORE
    images, masks = _write_pairs(tmp_path, {"a": good, "b": with_ignore})
    samples, problems = load_folder(images, masks)
    assert [s.name for s in samples] == ["a", "b"] and problems == []
    np.testing.assert_array_equal(read_labels(samples[1]), with_ignore)
    x, y, names, skipped = load_arrays(samples, SIZE)
    assert x.shape == (2, 64, 64, 1) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    assert y.shape == (2, 64, 64) and set(np.unique(y)) == {ABOVE, FASCIA, BELOW, IGNORE}
    assert names == ["a", "b"] and skipped == []


def test_colour_mapped_masks(tmp_path):
    classes = _classes()
    palette = {ABOVE: (0, 0, 0), FASCIA: (0, 255, 255), BELOW: (255, 0, 0)}  # BGR: black, yellow, blue
    colour = np.zeros((*classes.shape, 3), np.uint8)
    for cls, bgr in palette.items():
        colour[classes == cls] = bgr
    bad = colour.copy()
    bad[0, 0] = (1, 2, 3)
    images, masks = _write_pairs(tmp_path, {"a": colour, "odd": bad})
    cmap = tmp_path / "colours.json"
    cmap.write_text(json.dumps({"#000000": 0, "#ffff00": 1, "#0000ff": 2}))
    samples, _ = load_folder(images, masks, cmap)
    np.testing.assert_array_equal(read_labels(samples[0]), classes)
    with pytest.raises(DataError, match="colours not in the colour map"):
        read_labels(samples[1])
    x, y, names, skipped = load_arrays(samples, SIZE)
    assert names == ["a"] and len(skipped) == 1 and skipped[0].startswith("odd:")


def test_bad_inputs_are_reported_and_the_rest_still_loads(tmp_path):
    unknown = _classes()
    unknown[5, 5] = 7
    images, masks = _write_pairs(tmp_path, {"good": _classes(), "unknown": unknown, "unreadable": _classes()})
    (images / "unreadable.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    cv2.imwrite(str(images / "orphan.png"), np.zeros((80, 96), np.uint8))  # no mask
    cv2.imwrite(str(images / "wrongsize.png"), np.zeros((50, 50), np.uint8))
    cv2.imwrite(str(masks / "wrongsize.png"), _classes())
    samples, problems = load_folder(images, masks)
    assert problems == [f"orphan.png: no mask named orphan.* in {masks}"]
    x, y, names, skipped = load_arrays(samples, SIZE)
    assert names == ["good"] and len(x) == len(y) == 1
    reasons = dict(s.split(": ", 1) for s in skipped)
    assert set(reasons) == {"unknown", "unreadable", "wrongsize"}
    assert "unknown label values [7]" in reasons["unknown"]
    assert "not a readable image" in reasons["unreadable"]
    assert "mask is (96, 80), image is (50, 50)" in reasons["wrongsize"]


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DataError, match="no image/mask pairs"):
        load_folder(tmp_path / "images", tmp_path / "masks")
    with pytest.raises(DataError, match="image folder not found"):
        load_folder(tmp_path / "nope", tmp_path / "masks")


def test_nothing_usable_is_an_error(tmp_path):
    unknown = _classes()
    unknown[0, 0] = 9
    images, masks = _write_pairs(tmp_path, {"only": unknown})
    samples, _ = load_folder(images, masks)
    with pytest.raises(DataError, match="no usable samples"):
        load_arrays(samples, SIZE)


def test_scanner_holdout_puts_a_whole_layout_in_test_only(real_data_dir):
    from quantization.data import layout, load_dl_track_apo, read_image, split_holdout

    samples, _ = load_dl_track_apo(real_data_dir)
    parts = split_holdout(samples, "512x512", seed=3)
    by_name = {s.name: s for s in samples}
    assert {layout(read_image(by_name[n].image)) for n in parts["test"]} == {"512x512g"}
    assert len(parts["test"]) == 147
    seen = parts["train"] + parts["val"]
    assert not set(seen) & set(parts["test"]) and len(seen) + len(parts["test"]) == len(samples)
    assert all(not layout(read_image(by_name[n].image)).startswith("512x512") for n in parts["val"])
    with pytest.raises(DataError, match="no image has the layout"):
        split_holdout(samples, "999x1")
