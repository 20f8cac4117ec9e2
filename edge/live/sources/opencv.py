"""Capture through OpenCV: V4L2/UVC devices (HDMI grabbers, the Pi's TC358743 bridge) and video files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.core.frame import FrameRejected, check_pixels
from edge.live.sources.base import BadFrame, Capture, EndOfSource, SourceError, SourceLost, SourceSettings

_DEFAULT_FILE_FPS = 25.0
#: this many undecodable frames in a row end a file that announces more (truncated, not a damaged frame or two)
MAX_UNREADABLE = 25


#: bytes read from the start of a file to tell text from a video: every container's header has binary fields
SNIFF_BYTES = 4096


def is_text(path: str | Path) -> bool:
    """The file starts as text (no NUL, at most 2 % control bytes other than whitespace in its first `SNIFF_BYTES`):
    FFmpeg's tty demuxer would play it as a picture of its letters (.txt, .nfo, .asc, ...), not a scan."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head or b"\0" in head:
        return False
    control = sum(1 for b in head if b < 32 and b not in b"\t\n\r\f\x1b")
    return control <= 0.02 * len(head)


def is_device(target: int | str | Path) -> bool:
    """An index (0, "0") or a /dev path is a device; anything else is a file."""
    return isinstance(target, int) or str(target).isdigit() or str(target).startswith("/dev/")


class OpenCVCapture(Capture):
    """A V4L2 device (`/dev/videoN` or an index) or a video file, read with `cv2.VideoCapture`.

    A device is opened with the V4L2 backend and asked for the pixel format, size and rate in
    `settings`, with a one-buffer queue so that a read returns the newest picture, not an old one.
    A file goes through the same reads; it is paced at its own rate by the reader, ends at its last
    frame, and reopens at the frame after the last one delivered.
    """

    def __init__(self, target: int | str | Path, settings: SourceSettings | None = None) -> None:
        self.settings = settings or SourceSettings()
        self.device = is_device(target)
        self.target: int | str = int(target) if str(target).isdigit() else str(target)
        self.name = f"/dev/video{self.target}" if isinstance(self.target, int) else str(self.target)
        self.api = cv2.CAP_V4L2 if self.device else cv2.CAP_ANY
        self.live = self.device
        self.finite = not self.device
        self.fps = self.settings.fps or 0.0
        self.negotiated: dict[str, float | str] = {}
        self._cap: cv2.VideoCapture | None = None
        self._delivered = 0
        self._position = 0  #: a file's next frame index (frames delivered and frames skipped as unreadable)
        self._announced = 0  #: the frames a file's container says it holds (0: unknown)
        self._unreadable_in_a_row = 0

    def open(self) -> None:
        if not self.device and not Path(self.target).is_file():
            raise SourceError(f"video file not found: {self.target}")
        if not self.device and is_text(self.target):
            raise SourceError(f"{self.target} is a text file, not a video")
        cap = cv2.VideoCapture(self.target, self.api)
        if not cap.isOpened():
            cap.release()
            hint = " (is it plugged in? list devices with `v4l2-ctl --list-devices`)" if self.device else ""
            raise SourceError(f"cannot open {self.name} with OpenCV ({'V4L2' if self.device else 'file'}){hint}")
        if self.device:
            self._configure(cap)
        else:
            try:  # before a frame is decoded: a small file can hold a huge picture
                check_pixels(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            except FrameRejected as exc:
                cap.release()
                raise SourceError(f"{self.name}: {exc}") from None
            self.fps = self.settings.fps or cap.get(cv2.CAP_PROP_FPS) or _DEFAULT_FILE_FPS
            self._announced = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
            self._seek(cap, self._position)
        self.negotiated = self._read_back(cap)
        self._cap = cap

    def _configure(self, cap: cv2.VideoCapture) -> None:
        """Pixel format first (it decides which sizes and rates exist), then size, rate and buffering."""
        s = self.settings
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*s.fourcc))
        if s.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, s.width)
        if s.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, s.height)
        if s.fps:
            cap.set(cv2.CAP_PROP_FPS, s.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.fps = cap.get(cv2.CAP_PROP_FPS) or s.fps or 0.0

    @staticmethod
    def _read_back(cap: cv2.VideoCapture) -> dict[str, float | str]:
        code = int(cap.get(cv2.CAP_PROP_FOURCC))
        fourcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)) if code > 0 else "?"
        return {
            "backend": cap.getBackendName(),
            "fourcc": fourcc.strip("\x00") or "?",
            "width": cap.get(cv2.CAP_PROP_FRAME_WIDTH),
            "height": cap.get(cv2.CAP_PROP_FRAME_HEIGHT),
            "fps": cap.get(cv2.CAP_PROP_FPS),
        }

    @staticmethod
    def _seek(cap: cv2.VideoCapture, frame: int) -> None:
        """Continue a reopened file after the frames already delivered (grab through if it cannot seek)."""
        if frame == 0:
            return
        if cap.set(cv2.CAP_PROP_POS_FRAMES, frame) and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == frame:
            return
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        for _ in range(frame):
            if not cap.grab():
                break

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise SourceLost(f"{self.name} is not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            if self.device:
                raise SourceLost(f"{self.name} delivered no frame (unplugged, no HDMI signal, or driver error)")
            if not Path(self.target).is_file():
                raise SourceLost(f"{self.name} disappeared")
            self._skip_unreadable()
            raise EndOfSource(f"end of {self.name} after {self._delivered} frames")
        self._delivered += 1
        self._position += 1
        self._unreadable_in_a_row = 0
        if image.dtype != np.uint8:
            raise BadFrame("unreadable", f"{self.name} delivered {image.dtype}, not 8-bit")
        return image

    def _skip_unreadable(self) -> None:
        """A file whose container announces more frames than were read is damaged there: the frame is skipped and
        counted (BadFrame), and reading goes on after it; `MAX_UNREADABLE` in a row end the file as cut short. A read
        that fails within the last 2 % (or 3 frames) of the count is the end: some containers only estimate it."""
        early = EndOfSource(
            f"{self.name} ended early: {self._delivered} of the {self._announced} frames it announces could be read "
            "(the file is truncated or damaged)"
        )
        left = self._announced - self._position
        if not self._announced or left <= max(3, 0.02 * self._announced) and not self._unreadable_in_a_row:
            return  # the end the file announces, within what a container's estimate may be off, or an unknown length
        if left <= 0:  # the frames up to the announced end were all unreadable
            raise early
        self._position += 1
        self._unreadable_in_a_row += 1
        if self._unreadable_in_a_row > MAX_UNREADABLE:
            raise early
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, self._position)
        raise BadFrame("unreadable", f"frame {self._position - 1} of {self.name} could not be decoded (damaged?)")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def describe(self) -> str:
        n = self.negotiated
        if not n:
            return self.name
        size = f"{int(n['width'])}x{int(n['height'])}"
        kind = f"V4L2 {n['fourcc']} " if self.device else ""
        return f"{self.name} ({kind}{size} @ {self.fps:g} fps, {n['backend']})"
