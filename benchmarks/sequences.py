"""Clips made from one real capture with known motion: real speckle, band shape and neighbouring structures, the
truth known by construction.

The capture's B-mode area is cut into three layers along its labelled band (the tissue above, the band, the tissue
below; each layer's texture folded back at its boundary, so that a layer moved against its neighbour still shows its
own tissue there). Frame by frame each layer slides laterally by a known amount (`Motion.glide`: the tissue below
against the tissue above, the band by `fascia_share` of it), then the probe moves all of them (lateral pan, axial
lift, tilt about the probe face, a little zoom); speckle decorrelates out of plane (`decorrelation`: that share of the
fine texture's variance fresh every frame) and electronic noise is added (`noise`, grey levels); the B-mode area goes
back into its screen (the scanner's UI stays), and `write_clip` compresses the frames as a USB grabber does (MJPG
through OpenCV). Beyond the capture's sides each layer goes on as its mirror image (moving the same way).

`Clip.frame(i)` gives the picture and its truth (`Truth`: the class map, each layer's lateral position, the band as
measured on the true class map); `Switch` slides the probe from one capture onto another and back (a true jump).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.core.grey import to_grey
from edge.core.labels import ABOVE, BELOW, FASCIA, IGNORE
from edge.core.roi import Box, detect_bmode_roi
from edge.measurement.measure import Measurement, fascia_runs, measure

MJPG_QUALITY = 80  #: JPEG quality of the grabber's MJPG stream
PAD = 48  #: rows of tissue mirrored above and below a capture (the probe lifts and tilts over them)
#: how a layer is moved by a fraction of a pixel: windowed sinc, as close to moving the tissue itself as OpenCV has
#: (a bilinear shift blurs the texture more at half a pixel than at a whole one: the speckle would flicker)
SHIFT = cv2.INTER_LANCZOS4


@dataclass(frozen=True)
class Motion:
    """What happens over a clip. Probe motions are sinusoids with the clip's length as period (back where they
    started at its end), so that a tilt adds no net shear."""

    frames: int = 60
    glide: float = 0.0  #: px/frame the tissue below slides against the tissue above
    fascia_share: float = 0.5  #: the band slides by this share of `glide`
    pan_px: float = 0.0  #: probe: lateral amplitude
    lift_px: float = 0.0  #: probe: axial amplitude (pressure, breathing)
    tilt_deg: float = 0.0  #: probe: tilt amplitude about the probe face's centre
    zoom: float = 0.0  #: probe: relative scale amplitude about the probe face's centre
    decorrelation: float = 0.0  #: share of the speckle's variance fresh every frame (out of plane)
    noise: float = 0.0  #: electronic noise, grey levels (standard deviation, fresh every frame)
    seed: int = 0

    def probe(self, i: float) -> tuple[float, float, float, float]:
        """(pan px, lift px, tilt rad, scale) at frame `i`."""
        phase = 2 * np.pi * i / self.frames
        return (
            self.pan_px * np.sin(phase),
            self.lift_px * np.sin(2 * phase),
            np.deg2rad(self.tilt_deg) * np.sin(phase + 1.0),
            1.0 + self.zoom * np.sin(phase + 2.0),
        )

    def shifts(self, i: float) -> np.ndarray:
        """Lateral position (px) of the tissue above, the band and the tissue below against where they started."""
        return self.glide * i * np.array([0.0, self.fascia_share, 1.0])


@dataclass(frozen=True)
class Truth:
    labels: np.ndarray  #: uint8 class map of the whole screen (IGNORE outside the B-mode area)
    shifts: np.ndarray  #: lateral position of the tissue above, the band and the tissue below (px, zoom included)
    tissue: str  #: the capture the band in view belongs to (most of its columns)
    band: Measurement  #: that capture's band, measured on its own class map (depth, thickness as the runtime reports)
    other: Measurement | None = None  #: during a slide between captures, the other one's band


@dataclass(frozen=True)
class Capture:
    """A real capture cut into its layers."""

    name: str
    screen: np.ndarray  #: BGR uint8 (grey captures made BGR)
    roi: Box
    top: np.ndarray  #: float per ROI column: the band's first row (unlabelled columns interpolated)
    bottom: np.ndarray  #: float per ROI column: one past its last row
    textures: tuple[np.ndarray, np.ndarray, np.ndarray]  #: float32 per layer, folded beyond its boundaries

    @classmethod
    def of(cls, name: str, image: np.ndarray, labels: np.ndarray) -> Capture:
        """`image` (grey or BGR) and its native class map."""
        screen = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[..., :3].copy()
        roi = detect_bmode_roi(screen)
        grey, lab = roi.part(to_grey(screen)).astype(np.float32), roi.part(labels)
        runs = fascia_runs(lab)
        found = np.flatnonzero(runs.length)
        found = found[runs.length[found] >= np.median(runs.length[found]) / 2]  # not a stray line drawn elsewhere
        if found.size < 2:
            raise ValueError(f"{name}: no labelled band to build a clip from")
        x = np.arange(roi.w)
        top = np.interp(x, found, _running_median(runs.top[found])).astype(np.float32)
        bottom = np.interp(x, found, _running_median((runs.top + runs.length)[found])).astype(np.float32)
        return cls(name, screen, roi, top, bottom, _layer_textures(grey, top, bottom))

    @property
    def depth(self) -> float:
        """The band's median centre row (ROI pixels)."""
        return float(np.median((self.top + self.bottom) / 2))

    @property
    def thickness(self) -> float:
        return float(np.median(self.bottom - self.top))


def _running_median(values: np.ndarray, size: int = 31) -> np.ndarray:
    """Each value the median of the `size` around it: a stray labelled column does not bend the band."""
    return np.median(np.lib.stride_tricks.sliding_window_view(np.pad(values, size // 2, mode="reflect"), size), axis=1)


def _fold(rows: np.ndarray, start: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Rows mirrored into [start, start + size) per column (a triangle wave): a layer's own tissue beyond it."""
    size = np.maximum(size, 1)
    k = (rows - start) % (2 * size)
    return start + np.where(k < size, k, 2 * size - 1 - k)


def _layer_textures(grey: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, ...]:
    h, w = grey.shape
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    t, b = np.round(top).astype(int)[None, :], np.round(bottom).astype(int)[None, :]
    b = np.maximum(b, t + 1)
    spans = ((np.zeros_like(t), t), (t, b - t), (b, h - b))
    return tuple(_periodic(grey[np.clip(_fold(rows, s, n), 0, h - 1), cols], PAD) for s, n in spans)


def _periodic(image: np.ndarray, pad: int = 0) -> np.ndarray:
    """`image` and its mirror image side by side (sampled with BORDER_WRAP: a tissue that continues laterally, moving
    one way everywhere, where a mirror at the edge would move the other way), `pad` rows mirrored above and below."""
    image = cv2.copyMakeBorder(image, pad, pad, 0, 0, cv2.BORDER_REFLECT_101) if pad else image
    return np.ascontiguousarray(np.hstack([image, image[:, -2:0:-1]]))


def _fine(image: np.ndarray) -> np.ndarray:
    """The speckle's scale: the image less its 2-px blur."""
    return image - cv2.GaussianBlur(image, (0, 0), 2.0)


def _speckle(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Fresh unit-variance noise with a speckle's grain (longer laterally than axially), at the speckle's scale."""
    n = _fine(cv2.GaussianBlur(rng.standard_normal(shape, np.float32), (0, 0), sigmaX=1.5, sigmaY=0.8))
    return n / (n.std() + 1e-6)


def _decorrelated(image: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The fine texture (`_fine`) with `share` of its variance replaced by fresh speckle of the same local
    strength."""
    fine = _fine(image)
    strength = np.sqrt(cv2.GaussianBlur(fine * fine, (0, 0), 4.0))
    return image - fine + np.sqrt(1 - share) * fine + np.sqrt(share) * strength * _speckle(rng, image.shape)


@dataclass
class Clip:
    """A capture moved as `motion` says: `frame(i)` -> (BGR screen, `Truth`)."""

    capture: Capture
    motion: Motion = field(default_factory=Motion)

    def __len__(self) -> int:
        return self.motion.frames

    def bmode(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame `i`'s B-mode area (float32 grey before noise), its class map and each layer's position."""
        c, m = self.capture, self.motion
        h, w = c.roi.h, c.roi.w
        pan, lift, tilt, scale = m.probe(i)
        forward = cv2.getRotationMatrix2D((w / 2.0, 0.0), float(np.rad2deg(tilt)), float(scale))  # about the face
        forward[:, 2] += (pan, lift)
        back = cv2.invertAffineTransform(forward).astype(np.float32)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5  # pixel centres
        u = back[0, 0] * xs + back[0, 1] * ys + (back[0, 2] - 0.5)  # the unmoved tissue's pixels
        v = back[1, 0] * xs + back[1, 1] * ys + (back[1, 2] - 0.5)
        shifts = m.shifts(i)
        edges = _periodic(np.stack([c.top, c.bottom], axis=-1)[None])  # (1, w, 2): the band's rows, moving with it
        band = cv2.remap(edges, u - np.float32(shifts[1]), np.zeros_like(v), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_WRAP)  # fmt: skip
        top, bottom = band[..., 0], band[..., 1]
        above = np.clip(top - v, 0.0, 1.0)  # share of each pixel above the band's top, below its bottom
        below = np.clip(v + 1.0 - bottom, 0.0, 1.0)
        weights = (above, np.clip(1.0 - above - below, 0.0, 1.0), below)
        image = np.zeros((h, w), np.float32)
        for texture, weight, s in zip(c.textures, weights, shifts, strict=True):
            layer = cv2.remap(texture, u - np.float32(s), v + PAD, SHIFT, borderMode=cv2.BORDER_WRAP)
            image += weight * layer
        centre = v + 0.5
        labels = np.where(centre < top, ABOVE, np.where(centre < bottom, FASCIA, BELOW)).astype(np.uint8)
        return image, labels, shifts * scale

    def frame(self, i: int) -> tuple[np.ndarray, Truth]:
        image, labels, shifts = self.bmode(i)
        band = measure(labels, Box.full(labels.shape))
        return self._screen(image, i), Truth(self._screen_labels(labels), shifts, self.capture.name, band)

    def _screen(self, image: np.ndarray, i: int) -> np.ndarray:
        m = self.motion
        rng = np.random.default_rng((m.seed, i))
        if m.decorrelation:
            image = _decorrelated(image, m.decorrelation, rng)
        if m.noise:
            image = image + np.float32(m.noise) * rng.standard_normal(image.shape, np.float32)
        screen = self.capture.screen.copy()
        screen[self.capture.roi.slices] = np.clip(np.round(image), 0, 255).astype(np.uint8)[..., None]
        return screen

    def _screen_labels(self, labels: np.ndarray) -> np.ndarray:
        out = np.full(self.capture.screen.shape[:2], IGNORE, np.uint8)
        out[self.capture.roi.slices] = labels
        return out

    def frames(self) -> Iterator[tuple[np.ndarray, Truth]]:
        for i in range(len(self)):
            yield self.frame(i)


@dataclass
class Switch:
    """The probe slides from one capture onto another (`a` to `b`, `slide` frames), stays, and slides back: a true
    jump of the band to another structure, twice. Both clips move as their own `Motion` says meanwhile; the two
    captures need the same screen layout."""

    a: Clip
    b: Clip
    dwell: int = 30  #: frames on each capture before and after each slide
    slide: int = 10  #: frames the slide takes

    def __post_init__(self) -> None:
        if self.a.capture.screen.shape != self.b.capture.screen.shape:
            raise ValueError("a probe slides between captures of one screen layout")

    def __len__(self) -> int:
        return 3 * self.dwell + 2 * self.slide

    def share_b(self, i: int) -> float:
        """How much of the view shows capture `b` at frame `i`."""
        d, s = self.dwell, self.slide
        ramp = [0.0] * d + [(k + 1) / s for k in range(s)] + [1.0] * d + [1 - (k + 1) / s for k in range(s)]
        return (ramp + [0.0] * d)[i]

    def frame(self, i: int) -> tuple[np.ndarray, Truth]:
        (ia, ta), (ib, tb) = (c.frame(i) for c in (self.a, self.b))
        r = self.a.capture.roi
        cut = round(self.share_b(i) * r.w)
        screen, labels = ia.copy(), ta.labels.copy()
        for out, pa, pb in ((screen, r.part(ia), r.part(ib)), (labels, r.part(ta.labels), r.part(tb.labels))):
            r.part(out)[:, : r.w - cut] = pa[:, cut:]  # the view moves right: a leaves to the left, b comes in
            r.part(out)[:, r.w - cut :] = pb[:, : cut]  # fmt: skip
        seen, other = (tb, ta) if cut > r.w / 2 else (ta, tb)
        return screen, Truth(labels, seen.shifts, seen.tissue, seen.band, other.band)

    def frames(self) -> Iterator[tuple[np.ndarray, Truth]]:
        for i in range(len(self)):
            yield self.frame(i)


def write_clip(path: Path, frames: Iterator[np.ndarray], fps: float = 25.0, quality: int = MJPG_QUALITY) -> Path:
    """The frames as an MJPG AVI (OpenCV's own encoder), as a USB grabber delivers them."""
    writer = None
    for image in frames:
        if writer is None:
            size = (image.shape[1], image.shape[0])
            writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
            if not writer.isOpened():
                raise OSError(f"cannot write {path}")
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
        writer.write(image)
    if writer is None:
        raise ValueError("no frames to write")
    writer.release()
    return path
