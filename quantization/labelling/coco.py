"""COCO segmentation JSON (as CVAT exports it, "COCO 1.0") -> drawn bands.

The band's category is the only one, the one named ``--category``, or else the one named "fascia". Its polygons
(``[x1, y1, x2, y2, ...]`` in pixels, CVAT's polygons) and its uncompressed run-length masks (``{"counts": [...],
"size": [h, w]}``, CVAT's masks and brush strokes) of one image are that image's band, their union.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np

from quantization.labelling.masks import Drawn

DEFAULT_CATEGORY = "fascia"


def is_coco(doc: object) -> bool:
    """A COCO document: an object with images, annotations and categories."""
    return isinstance(doc, dict) and {"images", "annotations", "categories"} <= doc.keys()


def band_category(categories: list[dict], name: str | None) -> int:
    """The id of the band's category."""
    names = {c["id"]: str(c.get("name", "")) for c in categories}
    if name is None and len(names) == 1:
        return next(iter(names))
    wanted = (name or DEFAULT_CATEGORY).lower()
    found = [i for i, n in names.items() if n.lower() == wanted]
    if len(found) != 1:
        listed = ", ".join(sorted(names.values())) or "none"
        raise ValueError(f"no single category '{wanted}' (categories: {listed}); name the band's with --category")
    return found[0]


def read_coco(doc: dict, category: str | None = None) -> tuple[list[Drawn], list[str], int]:
    """The drawn bands, the problems ("image N (file): reason") and the number of images without a band (skipped)."""
    band = band_category(doc["categories"], category)
    shapes: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        if a.get("category_id") == band:
            shapes.setdefault(a.get("image_id"), []).append(a)
    drawn, problems = [], []
    for image in doc["images"]:
        frame = PurePosixPath(str(image.get("file_name", ""))).name
        where = f"image {image.get('id')}"
        if image.get("id") not in shapes:
            continue
        try:
            drawn.append(_drawn(where, frame, (int(image["width"]), int(image["height"])), shapes[image["id"]]))
        except KeyError as exc:
            problems.append(f"{where} ({frame}): missing {exc}")
        except (ValueError, TypeError) as exc:
            problems.append(f"{where} ({frame}): {exc}")
    return drawn, problems, len(doc["images"]) - len(drawn) - len(problems)


def _drawn(where: str, frame: str, size: tuple[int, int], annotations: list[dict]) -> Drawn:
    polygons, rasters = [], []
    for a in annotations:
        segmentation = a.get("segmentation")
        if isinstance(segmentation, dict):
            rasters.append(_decode_rle(segmentation, size))
            continue
        if not isinstance(segmentation, list) or not segmentation:
            raise ValueError(f"annotation {a.get('id')}: no polygon")
        for flat in segmentation:
            if len(flat) < 6 or len(flat) % 2:
                raise ValueError(f"annotation {a.get('id')}: a polygon of {len(flat)} numbers (x, y pairs, 3 or more)")
            polygons.append(np.asarray(flat, float).reshape(-1, 2))
    return Drawn(where, frame, size, tuple(polygons), tuple(rasters))


def _decode_rle(rle: dict, size: tuple[int, int]) -> np.ndarray:
    """An uncompressed COCO run-length mask: run lengths, zeros first, down the columns (Fortran order)."""
    counts, (h, w) = rle.get("counts"), rle.get("size", (0, 0))
    if not isinstance(counts, list):
        raise ValueError("a compressed run-length mask; export polygons, or masks with uncompressed counts")
    if (w, h) != size:
        raise ValueError(f"a run-length mask of {w}x{h} on a {size[0]}x{size[1]} image")
    if sum(counts) != h * w:
        raise ValueError(f"run lengths add up to {sum(counts)}, not {h}x{w} pixels")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")
