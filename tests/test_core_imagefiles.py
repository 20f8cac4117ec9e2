"""edge.core.imagefiles: listing and reading images, reading label masks of both kinds, pairing by stem."""

import cv2
import numpy as np
import pytest

from edge.core.image_header import HeaderError, image_size
from edge.core.imagefiles import ImageFileError, list_images, masks_by_stem, read_image, read_label_map
from edge.core.labels import band_mask_to_classes


def write(path, image):
    assert cv2.imwrite(str(path), image)
    return path


def test_list_images_sorted_by_suffix(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.tif", "notes.txt", "d.npy"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.tif"]
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        list_images(tmp_path / "missing")


def test_read_image_keeps_channels(tmp_path):
    grey = np.arange(60, dtype=np.uint8).reshape(6, 10)
    assert read_image(write(tmp_path / "g.png", grey)).shape == (6, 10)
    bgr = np.dstack([grey, grey // 2, grey // 3])
    np.testing.assert_array_equal(read_image(write(tmp_path / "c.png", bgr)), bgr)
    bgra = np.dstack([bgr, np.full_like(grey, 200)])
    assert read_image(write(tmp_path / "a.png", bgra)).shape == (6, 10, 4)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"\x89PNG\r\n\x1a\n broken", "not a readable image"), (b"hello", "not a readable")],
)
def test_read_image_bad_files(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageFileError, match=reason) as info:
        read_image(path)
    assert str(info.value).startswith("bad.png: ") and info.value.path == path


def test_read_image_truncated_quietly(tmp_path, capfd):
    ok, data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    path = tmp_path / "cut.png"
    path.write_bytes(data.tobytes()[: len(data) // 2])
    with pytest.raises(ImageFileError, match="cut.png: not a readable image"):
        read_image(path)
    assert capfd.readouterr().err == ""  # no decoder warnings besides the error itself


def test_read_image_rejects_16_bit(tmp_path):
    with pytest.raises(ImageFileError, match="uint16 pixels; only 8-bit"):
        read_image(write(tmp_path / "deep.png", np.zeros((4, 4), np.uint16)))


def test_read_image_missing(tmp_path):
    with pytest.raises(OSError):
        read_image(tmp_path / "nope.png")


def test_read_class_mask(tmp_path):
    labels = np.array([[0, 0, 255], [1, 1, 255], [2, 2, 255]], np.uint8)
    np.testing.assert_array_equal(read_label_map(write(tmp_path / "m.png", labels)), labels)
    as_bgr = write(tmp_path / "m3.png", cv2.cvtColor(labels, cv2.COLOR_GRAY2BGR))
    np.testing.assert_array_equal(read_label_map(as_bgr), labels)


def test_read_band_mask(tmp_path):
    band = np.zeros((8, 5), np.uint8)
    band[3:5, :4] = 255
    expected = band_mask_to_classes(band)
    np.testing.assert_array_equal(read_label_map(write(tmp_path / "b.png", band), band=True), expected)
    red = np.zeros((8, 5, 3), np.uint8)
    red[3:5, :4, 2] = 255  # a band drawn in red still counts
    np.testing.assert_array_equal(read_label_map(write(tmp_path / "r.png", red), band=True), expected)


def test_mask_kinds_are_not_confused(tmp_path):
    band = np.zeros((8, 5), np.uint8)
    band[3:5] = 255
    with pytest.raises(ImageFileError, match="looks like a binary band mask"):
        read_label_map(write(tmp_path / "band.png", band))
    with pytest.raises(ImageFileError, match="looks like a binary band mask"):
        read_label_map(write(tmp_path / "band01.png", band // 255))
    classes = np.array([[0], [1], [2]], np.uint8)
    with pytest.raises(ImageFileError, match="look like a 0/1/2 label map"):
        read_label_map(write(tmp_path / "classes.png", classes), band=True)
    ignored = np.array([[0, 255], [1, 255], [2, 255]], np.uint8)  # with unlabelled columns
    with pytest.raises(ImageFileError, match="look like a 0/1/2 label map"):
        read_label_map(write(tmp_path / "ignored.png", ignored), band=True)


def test_read_class_mask_rejects_odd_values_and_colour(tmp_path):
    with pytest.raises(ImageFileError, match=r"unknown label values \[7\]"):
        read_label_map(write(tmp_path / "odd.png", np.array([[0, 1, 2, 7]], np.uint8)))
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0] = (0, 0, 2)
    with pytest.raises(ImageFileError, match="colour mask"):
        read_label_map(write(tmp_path / "colour.png", colour))


def test_masks_by_stem_prefers_png(tmp_path):
    for name in ("a.jpg", "a.png", "b.bmp", "b.jpg", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = masks_by_stem(tmp_path)
    assert {k: v.name for k, v in found.items()} == {"a": "a.png", "b": "b.bmp"}
    with pytest.raises(FileNotFoundError, match="mask folder not found"):
        masks_by_stem(tmp_path / "missing")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    from edge.core.imagefiles import MAX_IMAGE_BYTES

    huge = tmp_path / "huge.png"
    with huge.open("wb") as fh:  # sparse: no disk or memory spent
        fh.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(ImageFileError, match="larger than any capture"):
        read_image(huge)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif"])
@pytest.mark.parametrize("shape", [(6, 10), (37, 5, 3)])
def test_an_images_size_is_read_from_its_header(tmp_path, suffix, shape):
    """Issue 25: the size is known before decoding (PNG, JPEG, BMP, TIFF), so a huge image is refused undecoded."""
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    ok, data = cv2.imencode(suffix, image)
    assert ok and image_size(data.tobytes()) == (shape[1], shape[0])
    with pytest.raises(HeaderError, match="not a PNG, JPEG, BMP or TIFF"):
        image_size(b"RIFF....WEBPVP8 ")
    with pytest.raises(HeaderError):
        image_size(data.tobytes()[:12])  # cut short: no size to be read
