"""Drawn bands -> the project's masks: 0/1/2 class maps (255 = a column without a band) as PNG, named after the
image (``<stem>.png``, as `tlfseg predict --masks` and `--data IMAGES:MASKS` pair them), each checked by the label
check and none written over an existing file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.core.grey import to_grey
from edge.core.imagefiles import ImageFileError, read_image
from edge.core.label_check import label_offset
from edge.core.labels import BELOW, FASCIA, band_mask_to_classes
from quantization.labelling.geometry import rasterize, stacked_columns


@dataclass(frozen=True)
class Drawn:
    """One image's band as an annotation tool stored it."""

    where: str  #: the annotation in its file, e.g. "task 12" or "image 7"
    frame: str  #: the image's file name
    size: tuple[int, int]  #: (width, height) of the image it was drawn on
    polygons: tuple[np.ndarray, ...] = ()  #: (N, 2) x, y in pixels
    rasters: tuple[np.ndarray, ...] = field(default=(), repr=False)  #: boolean band masks (COCO run-length masks)

    def band(self) -> np.ndarray:
        w, h = self.size
        band = rasterize(self.polygons, (h, w))
        for raster in self.rasters:
            band |= raster
        return band


def class_map(band: np.ndarray, grey: np.ndarray | None, check: bool = True) -> np.ndarray:
    """A band mask as the 3-class map, column by column; ValueError (the reason) where it is no usable label. `grey`:
    the image, for the label check (`check`; without it `grey` is not used)."""
    if not band.any():
        raise ValueError("no band drawn")
    stacked = stacked_columns(band)
    if stacked.size:
        raise ValueError(
            f"two bands one above the other in {stacked.size} columns (x {stacked[0]} to {stacked[-1]}): "
            "keep the fascia, delete the other"
        )
    labels = band_mask_to_classes(band.astype(np.uint8))
    if not (labels == BELOW).any():
        raise ValueError("the band reaches the bottom of the image in every column: nothing below it")
    if check:
        offset = label_offset(grey, labels == FASCIA)
        if offset is not None and offset.misregistered:
            raise ValueError(f"{offset.describe()} (--no-label-check writes it anyway)")
    return labels


def write_masks(
    drawn: list[Drawn], images: Path, out: Path, check: bool = True, log: Callable[[str], None] = print
) -> tuple[list[Path], list[str]]:
    """Each drawn band as ``out/<stem>.png``; returns the masks written and, for the others, why not
    ("<where> (<frame>): <reason>"). An existing file is never written over."""
    out.mkdir(parents=True, exist_ok=True)
    written, problems = [], []
    for i, d in enumerate(drawn, 1):
        target = out / f"{Path(d.frame).stem}.png"
        try:
            if target.exists():
                raise ValueError(f"{target} exists; not written over")
            image = read_image(images / d.frame)
            h, w = image.shape[:2]
            if (w, h) != d.size:
                raise ValueError(f"drawn on a {d.size[0]}x{d.size[1]} image, {d.frame} is {w}x{h}")
            labels = class_map(d.band(), to_grey(image), check)
            ok, png = cv2.imencode(".png", labels)
            if not ok:
                raise OSError(f"could not encode {target.name}")
            with open(target, "xb") as f:  # exclusive: a file made meanwhile is not written over either
                f.write(png.tobytes())
        except FileNotFoundError:
            problems.append(f"{d.where} ({d.frame}): no such image in {images}")
            continue
        except (ImageFileError, ValueError, OSError) as exc:
            problems.append(f"{d.where} ({d.frame}): {exc}")
            continue
        written.append(target)
        log(f"[{i}/{len(drawn)}] {d.where}: {d.frame} -> {target}")
    return written, problems
