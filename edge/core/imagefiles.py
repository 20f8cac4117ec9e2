"""Images and label masks on disk: listing, reading, and pairing masks with images by file stem.

The one implementation for `tlfseg predict`, scoring and the training data import.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.core.frame import FrameRejected, check_pixels
from edge.core.grey import to_grey
from edge.core.image_header import HeaderError, image_size
from edge.core.labels import BELOW, FASCIA, IGNORE, band_mask_to_classes, validate_labels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageFileError(ValueError):
    """An image or mask file that cannot be used: ``str()`` is "<file name>: <reason>"."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{self.path.name}: {reason}")


def list_images(folder: str | Path, what: str = "image folder") -> list[Path]:
    """Image files directly in `folder` (by suffix, any case), sorted by name; other files are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


#: a larger file is no screen capture (an uncompressed 8K frame is 100 MB): refused before it is read into memory
MAX_IMAGE_BYTES = 256 * 2**20


UNREADABLE = "not a readable image (corrupt or unsupported format)"


def read_image(path: str | Path) -> np.ndarray:
    """Read an 8-bit image as stored: 2-D grey, or BGR / BGRA. ImageFileError says why it cannot be used."""
    path = Path(path)
    size = path.stat().st_size  # OSError for a missing file
    if size > MAX_IMAGE_BYTES:
        raise ImageFileError(
            path, f"{size / 2**20:.0f} MB, larger than any capture (at most {MAX_IMAGE_BYTES // 2**20} MB)"
        )
    data = path.read_bytes()
    if not data:
        raise ImageFileError(path, "empty file")
    try:
        size = image_size(data)
    except HeaderError:
        raise ImageFileError(path, UNREADABLE) from None
    try:
        check_pixels(*size)  # before decoding: a file of a few hundred KB can hold a 20000 x 20000 image
    except FrameRejected as exc:
        raise ImageFileError(path, str(exc)) from None
    log = getattr(getattr(cv2, "utils", None), "logging", None)  # absent in some OpenCV builds (4.11)
    level = log.getLogLevel() if log else None
    if log:
        log.setLogLevel(log.LOG_LEVEL_SILENT)  # the reason is raised below; no decoder warnings on the console
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        if log:
            log.setLogLevel(level)
    if image is None:
        raise ImageFileError(path, UNREADABLE)
    if image.dtype != np.uint8:
        raise ImageFileError(path, f"{image.dtype} pixels; only 8-bit images are supported")
    return image


def read_label_map(path: str | Path, band: bool = False) -> np.ndarray:
    """A native 3-class label map (0/1/2, IGNORE=255) from a mask file.

    ``band=False``: the mask holds the class ids (0, 1, 2, and 255 = ignore) as grey values.
    ``band=True``: the mask is a binary band mask (non-zero = band), converted column by column by
    `band_mask_to_classes`. Masks that look like the other kind are refused rather than misread.
    """
    path = Path(path)
    raw = read_image(path)
    grey = to_grey(raw)
    values = set(np.unique(grey).tolist())
    if band:
        if BELOW in values and values <= {0, FASCIA, BELOW, IGNORE}:  # a class map, its ignored columns included
            raise ImageFileError(path, f"values {sorted(values)} look like a 0/1/2 label map, not a band mask")
        return band_mask_to_classes(grey)
    if raw.ndim == 3 and raw.shape[2] >= 3 and not (raw[..., :3] == raw[..., :1]).all():
        raise ImageFileError(path, "a colour mask; expected grey class ids (0, 1, 2, 255)")
    try:
        validate_labels(grey, "mask")
    except ValueError as exc:
        raise ImageFileError(path, f"{exc}; a binary band mask? read it as one") from None
    if BELOW not in values:
        raise ImageFileError(path, f"values {sorted(values)}, no class {BELOW} (below): looks like a binary band mask")
    return grey


def masks_by_stem(folder: str | Path) -> dict[str, Path]:
    """Mask files in `folder` keyed by file stem (``img_001.png`` pairs with image ``img_001.jpg``).

    Where two masks share a stem, the PNG (lossless) wins, then the name that sorts first.
    """
    found: dict[str, Path] = {}
    for p in sorted(list_images(folder, "mask folder"), key=lambda p: (p.suffix.lower() != ".png", p.name)):
        found.setdefault(p.stem, p)
    return found
