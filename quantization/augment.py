"""Training augmentations: tf.data maps of (image, labels) that keep the anatomy's order (tissue above, fascia,
tissue below) and invent no label; `augmentations` picks a config's in the order training applies them."""

from __future__ import annotations

import math

from edge.core.labels import FASCIA, IGNORE
from quantization.config import TrainConfig
from quantization.tfenv import tf

#: `flip_and_intensity`'s ranges of gain (a factor) and gamma (an exponent): the input reference spans their corners
GAIN, GAMMA = (0.75, 1.25), (0.75, 1.33)


def flip_and_intensity(x, y):
    """Anatomy-preserving augmentation: horizontal flip, gain, gamma, multiplicative speckle."""
    flip = tf.random.uniform(()) < 0.5
    x, y = (tf.cond(flip, lambda t=t: tf.reverse(t, [1]), lambda t=t: t) for t in (x, y))
    x = x * tf.random.uniform((), *GAIN)
    x = tf.pow(tf.clip_by_value(x, 0.0, 1.0), tf.random.uniform((), *GAMMA))
    x = x * tf.random.normal(tf.shape(x), 1.0, tf.random.uniform((), 0.0, 0.15))
    return tf.clip_by_value(x, 0.0, 1.0), y


#: --warp's affine ranges: rotation (degrees), scale (1 +- this), shift (+- this of the size)
WARP = (5.0, 0.1, 0.05)


def affine(degrees: float, scale_range: float, shift_range: float):
    """A random affine warp of image and labels together: rotation within +-`degrees`, scale 1 +- `scale_range`,
    shift +- `shift_range` of the size. `--warp` is `WARP`, `--rotate D` is (D, 0, 0).

    The image is resampled bilinearly, the labels by nearest neighbour; what comes from outside the image is
    black and unlabelled (IGNORE), so no label is invented.
    """

    def warp(x, y):
        h, w = tf.cast(tf.shape(x)[0], tf.float32), tf.cast(tf.shape(x)[1], tf.float32)
        angle = tf.random.uniform((), -degrees, degrees) * math.pi / 180
        scale = tf.random.uniform((), 1 - scale_range, 1 + scale_range)
        shift_x = tf.random.uniform((), -shift_range, shift_range) * w
        shift_y = tf.random.uniform((), -shift_range, shift_range) * h
        cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # output pixel (u, v) samples input
        # (cos*(u-cx) - sin*(v-cy) + cx - shift_x, sin*(u-cx) + cos*(v-cy) + cy - shift_y)
        matrix = tf.stack(
            [cos, -sin, cx - cos * cx + sin * cy - shift_x, sin, cos, cy - sin * cx - cos * cy - shift_y, 0.0, 0.0]
        )[None]
        shape = tf.shape(x)[:2]

        def transform(t, interpolation, fill):
            return tf.raw_ops.ImageProjectiveTransformV3(
                images=t[None],
                transforms=matrix,
                output_shape=shape,
                interpolation=interpolation,
                fill_mode="CONSTANT",
                fill_value=fill,
            )[0]

        x = transform(x, "BILINEAR", 0.0)
        y = transform(tf.cast(y, tf.float32)[..., None], "NEAREST", float(IGNORE))[..., 0]
        return x, tf.cast(y, tf.uint8)

    return warp


def depth_crop(share: float):
    """A random crop of whole rows, resized back to the input: the band at other depths and scales, real tissue only.

    Up to `share` of the rows is cut from the top, never into the band (the image then starts deeper in the body,
    as with less tissue above the fascia or a probe pressed harder), and up to `share` from the bottom, never into
    the band (the band deeper and thicker relative to the image). No rows are filled in, so no seam or black filler
    becomes a cue. The image is resampled bilinearly, the labels by nearest neighbour; half of the images stay as
    they are.
    """

    def crop(x, y):
        h, w = tf.shape(x)[0], tf.shape(x)[1]
        rows = tf.cast(tf.where(tf.reduce_any(tf.equal(y, FASCIA), axis=1))[:, 0], tf.int32)
        band_top = tf.reduce_min(tf.concat([rows, [h - 1]], 0))
        band_bottom = tf.reduce_max(tf.concat([rows, [0]], 0))
        limit = share * tf.cast(h, tf.float32)
        cut_top = tf.random.uniform((), 0.0, tf.minimum(limit, tf.cast(band_top, tf.float32)) + 1e-3)
        cut_bottom = tf.random.uniform((), 0.0, tf.minimum(limit, tf.cast(h - 1 - band_bottom, tf.float32)) + 1e-3)
        keep = tf.cast(tf.random.uniform(()) < 0.5, tf.float32)
        cut_top, cut_bottom = cut_top * (1 - keep), cut_bottom * (1 - keep)
        last = tf.cast(h - 1, tf.float32)
        box = tf.stack([cut_top / last, 0.0, (last - cut_bottom) / last, 1.0])[None]
        size = tf.stack([h, w])
        x = tf.image.crop_and_resize(x[None], box, [0], size, method="bilinear")[0]
        labels = tf.cast(y, tf.float32)[None, ..., None]
        y = tf.image.crop_and_resize(labels, box, [0], size, method="nearest")[0, ..., 0]
        return x, tf.cast(tf.round(y), tf.uint8)

    return crop


def tissue_above(share: float):
    """More tissue above the band: the band pushed deeper into the picture, as under a thicker layer of skin and fat.

    Every labelled band of the shared set starts within the top 8 % of its B-mode area, so a model learns "the first
    bright line near the top". Here up to `share` of the rows are put on top of the image, taken from the tissue just
    under the band (muscle: faint, fibre-like lines, as the septa of subcutaneous fat look), upside down so that the
    rows nearest the band's underside meet the image's top; the image is cut back to its height at the bottom (never
    into the band). The new rows are labelled tissue above (unlabelled where the column is), so the model learns that
    faint lines above a band are not the fascia. Half of the images stay as they are.
    """

    def add(x, y):
        h = tf.shape(x)[0]
        rows = tf.cast(tf.where(tf.reduce_any(tf.equal(y, FASCIA), axis=1))[:, 0], tf.int32)
        below = tf.reduce_max(tf.concat([rows, [-1]], 0)) + 1  # the first row under the band
        room = tf.minimum(tf.cast(share * tf.cast(h, tf.float32), tf.int32), h - below)  # the bottom cut spares it
        extra = tf.cast(tf.random.uniform(()) * tf.cast(room, tf.float32), tf.int32)
        extra = tf.where((tf.random.uniform(()) < 0.5) | (tf.size(rows) == 0), 0, extra)
        strip, strip_labels = x[below : below + extra], y[below : below + extra]
        strip_labels = tf.where(tf.equal(strip_labels, IGNORE), strip_labels, tf.zeros_like(strip_labels))
        x = tf.concat([tf.reverse(strip, [0]), x], 0)[:h]
        y = tf.concat([tf.reverse(strip_labels, [0]), y], 0)[:h]
        return x, y

    return add


def stretch_above(share: float):
    """More tissue above the band without a seam or a new line: the rows above the band stretched downwards.

    `tissue_above` borrowed the muscle under the band, and with it the deep aponeurosis: a bright band above the
    labelled one, which taught the model to skip the true band. Here the image's own rows above the band are
    resampled (bilinearly, labels by nearest neighbour) to up to `share` of the height more; the band and what lies
    under it move down unchanged and the image is cut back to its height at the bottom, never into the band. The
    speckle of the stretched rows is coarser vertically; `flip_and_intensity`'s multiplicative speckle, applied after,
    adds fine grain back. Half of the images stay as they are.
    """

    def stretch(x, y):
        h, w = tf.shape(x)[0], tf.shape(x)[1]
        rows = tf.cast(tf.where(tf.reduce_any(tf.equal(y, FASCIA), axis=1))[:, 0], tf.int32)
        top = tf.reduce_min(tf.concat([rows, [h]], 0))  # the band's first row (h: no band)
        room = h - 1 - tf.reduce_max(tf.concat([rows, [0]], 0))  # rows under the band the cut may take
        room = tf.minimum(room, tf.cast(share * tf.cast(h, tf.float32), tf.int32))
        extra = tf.cast(tf.random.uniform(()) * tf.cast(room, tf.float32), tf.int32)
        extra = tf.where((tf.random.uniform(()) < 0.5) | (top < 2) | (top >= h), 0, extra)
        top = tf.clip_by_value(top, 1, h)  # a band at row 0 (extra is 0 then): resize one row to itself, not none
        size = tf.stack([top + extra, w])
        above = tf.image.resize(x[:top], size, method="bilinear")
        labels = tf.image.resize(y[:top, :, None], size, method="nearest")[..., 0]
        x = tf.concat([above, x[top:]], 0)[:h]
        y = tf.concat([tf.cast(labels, y.dtype), y[top:]], 0)[:h]
        return tf.ensure_shape(x, [None, None, 1]), y

    return stretch


def augmentations(cfg: TrainConfig) -> list:
    """The maps `cfg` turns on, in the order training applies them: depth levers first, the intensity last."""
    maps = []
    if cfg.tissue_above:
        maps.append(tissue_above(cfg.tissue_above))
    if cfg.stretch_above:
        maps.append(stretch_above(cfg.stretch_above))
    if cfg.depth_crop:
        maps.append(depth_crop(cfg.depth_crop))
    if cfg.warp or cfg.rotate:
        maps.append(affine(*(WARP if cfg.warp else (cfg.rotate, 0.0, 0.0))))
    if cfg.augment:
        maps.append(flip_and_intensity)
    return maps
