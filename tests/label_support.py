"""Shared by the `tlfseg label` tests: phantom frames on disk with their true bands, and bands as drawn polygons."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge.core.labels import ABOVE, FASCIA, IGNORE
from edge.tools.cli import main
from quantization.labelling.geometry import band_outlines


def write_frames(phantom, folder: Path, count: int = 2) -> dict[str, np.ndarray]:
    """Phantom frames as ``folder/f<i>.png``; their true label maps by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(count):
        frame = phantom.frame(i)
        cv2.imwrite(str(folder / f"f{i}.png"), frame.image)
        truth[f"f{i}.png"] = frame.labels
    return truth


def phantom_frames(phantom, tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Two phantom frames in ``tmp_path/frames``, and their true label maps."""
    return tmp_path / "frames", write_frames(phantom, tmp_path / "frames")


def import_json(tmp_path: Path, doc: object, name: str, frames_dir: Path, *extra: str) -> int:
    """`tlfseg label import` of `doc` saved as ``tmp_path/name``, masks into ``tmp_path/masks``."""
    (tmp_path / name).write_text(json.dumps(doc))
    argv = ["label", "import", str(tmp_path / name), "--images", str(frames_dir), "--out", str(tmp_path / "masks")]
    return main([*argv, *extra])


def true_polygon(labels: np.ndarray, move_upper: int = 0) -> np.ndarray:
    """The band of a true label map as one polygon in pixels (every column), its upper boundary moved down by
    `move_upper` px: the annotator's drag."""
    (polygon,) = band_outlines(np.where(labels == IGNORE, ABOVE, labels), tolerance=0)
    split = int(np.argmax(polygon[:, 0] == polygon[:, 0].max())) + 1  # the upper boundary ends at the right edge
    polygon[:split, 1] += move_upper
    return polygon


def moved_truth(labels: np.ndarray, move_upper: int) -> np.ndarray:
    """What the mask of a band whose upper boundary was moved down by `move_upper` px must be: its first rows above."""
    expected = labels.copy()
    top = np.argmax(labels == FASCIA, axis=0)
    for j in np.flatnonzero((labels == FASCIA).any(axis=0)):
        expected[top[j] : top[j] + move_upper, j] = ABOVE
    return expected


def percent(polygon: np.ndarray, width: int, height: int) -> list[list[float]]:
    """Pixels -> Label Studio's percentages of the image's width and height."""
    return (polygon * [100 / width, 100 / height]).tolist()
