"""A folder of images played in name order, as if it were a capture device."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.core.imagefiles import IMAGE_SUFFIXES, ImageFileError, list_images, read_image
from edge.live.sources.base import BadFrame, Capture, EndOfSource, SourceError, SourceLost

DEFAULT_FOLDER_FPS = 10.0


class ImageFolderCapture(Capture):
    """Every image in `folder` (png, jpg, bmp, tif) by name; reopening resumes after the last one read."""

    live = False
    finite = True

    def __init__(self, folder: str | Path, fps: float | None = None) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        self.fps = fps or DEFAULT_FOLDER_FPS
        self._queue: list[Path] = []
        self._last: str | None = None

    def open(self) -> None:
        try:
            names = list_images(self.folder)
        except FileNotFoundError as exc:
            raise SourceError(str(exc)) from None
        if self._last is None and not names:
            raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.folder}")
        self._queue = [p for p in reversed(names) if self._last is None or p.name > self._last]  # pop() = next

    def read(self) -> np.ndarray:
        if not self._queue:
            raise EndOfSource(f"end of {self.folder}")
        path = self._queue[-1]
        try:
            image = read_image(path)
        except ImageFileError as exc:
            self._consume(path)
            raise BadFrame("unreadable", str(exc)) from None
        except OSError as exc:
            if not self.folder.is_dir():  # the folder went away: this image is read again after reopening
                raise SourceLost(f"{self.folder} disappeared") from None
            self._consume(path)
            raise BadFrame("unreadable", f"{path.name}: {exc.strerror or exc}") from None
        self._consume(path)
        return image

    def _consume(self, path: Path) -> None:
        self._queue.pop()
        self._last = path.name

    def close(self) -> None:
        self._queue = []

    def picture_name(self) -> str | None:
        return self._last

    def describe(self) -> str:
        return f"{self.folder} (images in name order @ {self.fps:g} fps)"
