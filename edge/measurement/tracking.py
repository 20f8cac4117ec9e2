"""The band followed from frame to frame on a stream: a frame whose band lies far from where it has been is flagged
`jump` (most likely another structure taken for the fascia) instead of measured."""

from __future__ import annotations

from collections.abc import Callable

from edge.measurement.measure import Measurement


class BandTracker:
    """Tracks the band's centre row (ROI pixels) over the good frames of a stream measured whole.

    A frame whose band centre lies more than `max_jump` band thicknesses (and at least `min_jump_px`) from the tracked
    depth gets the `jump` flag and does not move the track; `settle` such frames in a row that agree with each other
    are taken as the new depth (the probe moved, or the scanner's depth changed). Frames with other flags leave the
    track as it is, and so do frames measured in part (`partial`): they are judged (`jump`) but do not move it, so a
    piece the track chose (`at_track`) never confirms the track.
    """

    def __init__(self, max_jump: float = 1.5, min_jump_px: float = 6.0, settle: int = 5, smoothing: float = 0.3):
        self.max_jump, self.min_jump_px, self.settle, self.smoothing = max_jump, min_jump_px, settle, smoothing
        self.reset()

    def reset(self) -> None:
        self.depth: float | None = None
        self._pending: list[float] = []

    def _far(self, a: float, b: float, thickness: float) -> bool:
        return abs(a - b) > max(self.max_jump * thickness, self.min_jump_px)

    def at_track(self) -> Callable[[float, float], bool] | None:
        """For `measure`: whether a band at a depth (ROI row), this many pixels thick, lies where the band has been;
        None while there is no settled track (none yet, or a new depth pending)."""
        depth = self.depth
        if depth is None or self._pending:
            return None
        return lambda at, thickness: not self._far(at, depth, thickness)

    def __call__(self, m: Measurement) -> Measurement:
        """`m`, with `jump` added where its band is not where the track is."""
        if not m.good or m.depth_px is None or m.thickness_px is None:
            return m
        if "partial" in m.flags:  # judged, never followed
            near = self.depth is None or not self._far(m.depth_px, self.depth, m.thickness_px)
            return m if near else m.flagged("jump")
        if self.depth is None or not self._far(m.depth_px, self.depth, m.thickness_px):
            start = m.depth_px if self.depth is None else self.depth
            self.depth, self._pending = start + self.smoothing * (m.depth_px - start), []
            return m
        if self._pending and self._far(m.depth_px, self._pending[-1], m.thickness_px):
            self._pending = []
        self._pending.append(m.depth_px)
        if len(self._pending) >= self.settle:  # a new depth held for long enough: follow it
            self.depth, self._pending = m.depth_px, []
            return m
        return m.flagged("jump")
