"""A synthetic B-mode phantom on a scanner screen: the bundled sample input and a virtual probe stream.

Speckle, depth attenuation, muscle-fibre streaks, a bright layered band (the fascia) between two tissue
layers, scanner UI around the image (bars, scale ticks, a coloured icon), and slow motion between frames.
Every frame comes with its exact 3-class labels and the true band thickness.

Gliding mode (`glide`, `persistence`): the tissue above the band, the band and the tissue below it slide laterally
by known amounts (`true_shift`), each layer's speckle and shape moving with it (the band's depth does not breathe
there: a band whose laminae move while its speckle stays is no rigid tissue, and pulls a least-squares estimate
towards the laminae), so that a gliding estimate has a true value; one way at a constant speed, or back and forth
(`glide_period`: movement cycles from rest, like a trunk flexion).
Its band is dimmer (`band_echo`) than the original frames': there half the band is clipped at full white, a plateau
without speckle that a scanner's log compression and a sonographer's gain setting avoid on a fascia to be tracked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from edge.core.labels import band_mask_to_classes
from edge.core.roi import Box

DEFAULT_ROI = Box(110, 40, 400, 420)


@dataclass(frozen=True)
class PhantomFrame:
    image: np.ndarray  #: BGR uint8 screen capture
    labels: np.ndarray  #: uint8 3-class labels (IGNORE outside the B-mode columns)
    roi: Box  #: the B-mode area on the screen
    thickness_px: float  #: the band's true vertical thickness
    index: int


class Phantom:
    """Deterministic phantom frames: `frame(i)` is the i-th frame of a slowly moving probe."""

    def __init__(
        self,
        screen: tuple[int, int] = (480, 640),
        roi: Box = DEFAULT_ROI,
        thickness_px: float = 12.0,
        slope: float = 0.06,
        seed: int = 0,
        glide: float = 0.0,
        persistence: float = 0.0,
        fascia_share: float = 0.5,
        glide_period: float = 0.0,
        band_echo: float = 0.6,
    ) -> None:
        """`glide`: px per frame the layer below slides laterally relative to the layer above; the band slides by
        `fascia_share` of that. `persistence`: share of the speckle that moves with its layer (0: fresh speckle every
        frame, the original phantom; the rest stays fresh: decorrelation). Both 0: the original frames, bit for bit.
        `glide_period` > 0: the glide goes back and forth, at `glide` sin(2 pi i / period) px per frame, so that the
        layer below is `glide` period / pi px from its start at the middle of each cycle and back at its end.
        `band_echo`: the band's echo level in gliding mode (0.6: under 1 % of its pixels at full white; 0.95, the
        original frames' level: half of them)."""
        roi.check_fits(screen)
        if not 0.0 <= persistence <= 1.0 or not 0.0 <= fascia_share <= 1.0:
            raise ValueError("persistence and fascia_share must lie in [0, 1]")
        if glide_period < 0:
            raise ValueError(f"glide_period must be 0 (one way) or positive, got {glide_period}")
        self.screen, self.roi, self.thickness, self.slope, self.seed = screen, roi, thickness_px, slope, seed
        self.glide, self.persistence, self.fascia_share = glide, persistence, fascia_share
        self.glide_period, self.band_echo = glide_period, band_echo
        rng = np.random.default_rng(seed)
        h, w = roi.h, roi.w
        # static tissue texture, wider than the view so that the probe can slide over it
        self._pad = 64
        fibres = rng.normal(0, 1, (h, w + 2 * self._pad)).astype(np.float32)
        self._fibres = cv2.GaussianBlur(fibres, (0, 0), sigmaX=9, sigmaY=0.8)
        self._fibres /= self._fibres.std() + 1e-6
        self._ui = self._draw_ui()
        self._layers = self._layer_textures() if (glide or persistence) else None

    def _draw_ui(self) -> np.ndarray:
        h, w = self.screen
        ui = np.full((h, w, 3), 58, np.uint8)
        ui[:32] = 72  # top bar
        r = self.roi
        x_scale = min(r.x + r.w + 12, w - 4)
        cv2.line(ui, (x_scale, r.y), (x_scale, r.y + r.h), (200, 200, 200), 1)
        for y in range(r.y, r.y + r.h, 40):
            cv2.line(ui, (x_scale, y), (x_scale + 6, y), (200, 200, 200), 1)
        cv2.putText(ui, "TLF  L3", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (230, 230, 230), 1, cv2.LINE_AA)
        cv2.circle(ui, (w - 24, 16), 10, (200, 120, 30), -1)  # coloured icon
        return ui

    def _layer_textures(self) -> tuple[np.ndarray, np.ndarray]:
        """Laterally periodic fibres and speckle (3 widths wide) for the gliding mode: (fibres, speckle per layer)."""
        rng = np.random.default_rng((self.seed, 17))
        h, w = self.roi.h, 3 * self.roi.w

        def periodic(noise: np.ndarray, sx: float, sy: float) -> np.ndarray:
            tiled = np.concatenate([noise, noise, noise], axis=1)  # the blur sees the periodic continuation
            return cv2.GaussianBlur(tiled, (0, 0), sigmaX=sx, sigmaY=sy)[:, w : 2 * w]

        fibres = periodic(rng.normal(0, 1, (h, w)).astype(np.float32), 9, 0.8)
        fibres /= fibres.std() + 1e-6
        speckle = np.stack([periodic(rng.rayleigh(0.8, (h, w)).astype(np.float32), 1.6, 0.8) for _ in range(3)])
        return fibres, speckle * 1.6

    def true_shift(self, index: int) -> tuple[float, float, float]:
        """Lateral position (px) of the tissue above, the band and the tissue below in frame `index` (gliding mode)."""
        probe = 20 * np.sin(2 * np.pi * index / 150.0)
        return probe, probe + self.fascia_share * self.glide_at(index), probe + self.glide_at(index)

    def glide_at(self, index: float) -> float:
        """How far (px) the layer below has slid against the layer above by frame `index` (gliding mode)."""
        period = self.glide_period
        if not period:
            return self.glide * index
        return self.glide * period / (2 * np.pi) * (1 - np.cos(2 * np.pi * index / period))

    def band_top(self, index: int) -> np.ndarray:
        """Top row of the band per ROI column (float, ROI coordinates) for frame `index`."""
        t = index / 25.0
        xs = np.arange(self.roi.w, dtype=np.float32)
        if self._layers is not None:  # gliding mode: the band's shape moves with its speckle, laterally only
            x = xs - self.true_shift(index)[1]
            return self.roi.h * 0.08 + self.slope * (x - self.roi.w / 2) + 3.0 * np.sin(x / 55.0)
        depth = self.roi.h * (0.08 + 0.02 * np.sin(2 * np.pi * t / 6.0))
        return depth + self.slope * (xs - self.roi.w / 2) + 3.0 * np.sin(xs / 55.0 + t)

    def frame(self, index: int) -> PhantomFrame:
        if self._layers is not None:
            return self._gliding_frame(index)
        rng = np.random.default_rng((self.seed, index))
        r = self.roi
        shift = int(round(self._pad + 20 * np.sin(2 * np.pi * index / 150.0)))
        fibres = self._fibres[:, shift : shift + r.w]
        rows = np.arange(r.h, dtype=np.float32)[:, None]
        top = self.band_top(index)[None, :]
        bottom = top + self.thickness
        inside = (rows >= top) & (rows < bottom)
        u = np.clip((rows - top) / self.thickness, 0, 1)
        layered = 0.75 + 0.25 * np.cos(2 * np.pi * 2 * u)  # two bright laminae with a dimmer core
        tissue = np.where(rows < top, 0.08 + 0.03 * fibres, 0.22 + 0.10 * np.clip(fibres, -1, 3))
        echo = np.where(inside, 0.95 * layered, tissue)
        echo *= np.exp(-1.2 * rows / r.h)  # depth attenuation
        speckle = rng.rayleigh(0.8, echo.shape).astype(np.float32)
        speckle = cv2.GaussianBlur(speckle, (0, 0), sigmaX=1.6, sigmaY=0.8) * 1.6
        return self._compose(np.clip(255 * echo * speckle, 0, 255).astype(np.uint8), inside, index)

    def _gliding_frame(self, index: int) -> PhantomFrame:
        rng = np.random.default_rng((self.seed, index))
        r = self.roi
        fibres, speckles = self._layers
        rows = np.arange(r.h, dtype=np.float32)[:, None]
        top = self.band_top(index)[None, :]
        bottom = top + self.thickness
        inside = (rows >= top) & (rows < bottom)
        above = rows < top
        u = np.clip((rows - top) / self.thickness, 0, 1)
        layered = 0.75 + 0.25 * np.cos(2 * np.pi * 2 * u)
        a, _, b = (_shifted(fibres, s, r.w) for s in self.true_shift(index))
        tissue = np.where(above, 0.08 + 0.03 * a, 0.22 + 0.10 * np.clip(b, -1, 3))
        echo = np.where(inside, self.band_echo * layered, tissue) * np.exp(-1.2 * rows / r.h)
        moving = [_shifted(sp, s, r.w) for sp, s in zip(speckles, self.true_shift(index), strict=True)]
        speckle = np.where(above, moving[0], np.where(inside, moving[1], moving[2]))
        fresh = cv2.GaussianBlur(rng.rayleigh(0.8, echo.shape).astype(np.float32), (0, 0), 1.6, sigmaY=0.8) * 1.6
        speckle = self.persistence * speckle + (1.0 - self.persistence) * fresh
        return self._compose(np.clip(255 * echo * speckle, 0, 255).astype(np.uint8), inside, index)

    def _compose(self, bmode: np.ndarray, inside: np.ndarray, index: int) -> PhantomFrame:
        """The B-mode image on the scanner screen, with its labels."""
        r = self.roi
        image = self._ui.copy()
        image[r.slices] = bmode[..., None]
        band = np.zeros(self.screen, np.uint8)
        band[r.slices] = inside.astype(np.uint8)
        return PhantomFrame(image, band_mask_to_classes(band), r, self.thickness, index)

    def frames(self, count: int | None = None) -> Iterator[PhantomFrame]:
        i = 0
        while count is None or i < count:
            yield self.frame(i)
            i += 1


def _shifted(texture: np.ndarray, shift: float, width: int) -> np.ndarray:
    """`width` columns of a laterally periodic texture moved right by `shift` px (linear between columns)."""
    start = np.floor(shift)
    frac = np.float32(shift - start)
    cols = (np.arange(width + 1) - int(start) - 1) % texture.shape[1]
    part = texture[:, cols]
    return (1 - frac) * part[:, 1:] + frac * part[:, :-1]
