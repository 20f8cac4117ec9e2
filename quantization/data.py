"""Data import: image/mask folders -> 3-class label maps, deterministic splits, model-ready arrays."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import edge.core.grey
import edge.core.imagefiles as imagefiles
import edge.core.labels
import edge.core.preprocess
import edge.core.roi
from edge.core.grey import to_grey
from edge.core.label_check import drawn_bands, label_offset
from edge.core.labels import IGNORE
from edge.core.paths import DL_TRACK_APO
from edge.core.preprocess import prepare_input, prepare_labels
from edge.core.roi import detect_bmode_roi


class DataError(ValueError):
    """An image or mask that cannot be used, with the reason."""


@dataclass(frozen=True)
class Sample:
    name: str
    image: Path
    mask: Path
    kind: str  #: "band" (binary band mask, converted per column) or "classes" (0/1/2 values)
    colours: tuple[tuple[tuple[int, int, int], int], ...] | None = None  #: BGR colour -> class, for "classes"


def read_image(path: Path) -> np.ndarray:
    """An 8-bit image as stored (grey or BGR), through the runtime's own reader; DataError if unusable."""
    try:
        return imagefiles.read_image(path)
    except ValueError as exc:
        raise DataError(f"{path}: {exc.reason if isinstance(exc, imagefiles.ImageFileError) else exc}") from None


def read_labels(sample: Sample) -> np.ndarray:
    """The sample's native 3-class label map (0/1/2, IGNORE)."""
    if not sample.colours:  # band masks and 0/1/2 masks: the runtime's reader, also used by `tlfseg predict`
        try:
            return imagefiles.read_label_map(sample.mask, band=sample.kind == "band")
        except ValueError as exc:
            raise DataError(f"{sample.mask}: {getattr(exc, 'reason', exc)}") from None
    raw = read_image(sample.mask)
    if raw.ndim != 3:
        raise DataError(f"{sample.mask}: a colour map was given but the mask is not a colour image")
    labels = np.full(raw.shape[:2], IGNORE, np.uint8)
    known = np.zeros(raw.shape[:2], bool)
    for bgr, cls in sample.colours:
        hit = np.all(raw[..., :3] == np.array(bgr, np.uint8), axis=-1)
        labels[hit], known = cls, known | hit
    if not known.all():
        odd = np.unique(raw[..., :3][~known].reshape(-1, 3), axis=0)[:5].tolist()
        raise DataError(f"{sample.mask}: colours not in the colour map, e.g. {odd}")
    return labels


def _pairs(images_dir: Path, masks_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Images paired with their masks by file stem, the runtime's rule (`edge.core.imagefiles.masks_by_stem`, also
    `tlfseg predict --masks`); the images without a mask as problems."""
    try:
        images, masks = imagefiles.list_images(images_dir), imagefiles.masks_by_stem(masks_dir)
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None
    pairs, problems = [], []
    for img in images:
        if img.stem in masks:
            pairs.append((img.stem, img, masks[img.stem]))
        else:
            problems.append(f"{img.name}: no mask named {img.stem}.* in {masks_dir}")
    if not pairs:
        raise DataError(f"no image/mask pairs in {images_dir} and {masks_dir}")
    return pairs, problems


def load_folder(
    images_dir: str | Path, masks_dir: str | Path, colour_map: str | Path | None = None, band: bool = False
) -> tuple[list[Sample], list[str]]:
    """An annotation-tool export: masks with values 0/1/2 (255 = ignore), or colours mapped by a JSON file, or with
    `band` binary band masks (as `tlfseg predict --band-masks` reads them).

    The colour map is ``{"#rrggbb": class, ...}``. Returns the samples and the problems found (images
    without a mask), which the caller reports; the other images are still used.
    """
    if band:
        pairs, problems = _pairs(Path(images_dir), Path(masks_dir))
        return [Sample(n, i, m, "band") for n, i, m in pairs], problems
    colours = None
    if colour_map is not None:
        table = json.loads(Path(colour_map).read_text())
        colours = tuple(((int(k[5:7], 16), int(k[3:5], 16), int(k[1:3], 16)), int(v)) for k, v in table.items())
    pairs, problems = _pairs(Path(images_dir), Path(masks_dir))
    return [Sample(n, i, m, "classes", colours) for n, i, m in pairs], problems


def load_dl_track_apo(root: str | Path = DL_TRACK_APO) -> tuple[list[Sample], list[str]]:
    """The shared aponeurosis set: binary band masks, mapped to the 3 classes per its README."""
    return load_folder(Path(root) / "images", Path(root) / "masks", band=True)


def picture_key(grey: np.ndarray) -> str:
    """A grey picture's identity, pixel for pixel: the same key, the same image (whatever its file is called)."""
    return hashlib.sha1(grey.tobytes() + repr(grey.shape).encode()).hexdigest()


def check_labels(samples: list[Sample]) -> tuple[list[Sample], list[str]]:
    """The samples whose labels can be trained and scored on, and why the others are left out: a mask that does not
    sit on its image (`edge.core.label_check`), and a second copy of an image already kept (pixel for pixel: it would
    count twice, or sit on both sides of a split). Unreadable samples are kept here for `load_arrays` to report."""
    kept, problems, seen = [], [], {}
    for s in samples:
        try:
            grey = to_grey(read_image(s.image))
            band = read_image(s.mask) if s.kind == "band" else read_labels(s)
            offset = label_offset(grey, drawn_bands(band, s.kind == "band"))
        except (DataError, ValueError):
            kept.append(s)
            continue
        if offset is not None and offset.misregistered:
            problems.append(f"{s.name}: left out: {offset.describe()}")
            continue
        key = picture_key(grey)
        if key in seen:
            problems.append(f"{s.name}: left out: the same image as {seen[key]}, which is kept")
            continue
        seen[key] = s.name
        kept.append(s)
    return kept, problems


def load_samples(data: str, label_check: bool = True) -> tuple[list[Sample], list[str]]:
    """The samples of a `--data` source ("dl_track_apo" or "IMAGES:MASKS[:COLOURS.json]") and the problems found;
    with `label_check`, those `check_labels` leaves out."""
    if data == "dl_track_apo":
        samples, problems = load_dl_track_apo()
    else:
        parts = data.split(":")
        samples, problems = load_folder(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
    if not label_check:
        return samples, problems
    kept, left_out = check_labels(samples)
    return kept, problems + left_out


def split(names: list[str], seed: int = 0, fractions: tuple[float, float] = (0.7, 0.15)) -> dict[str, list[str]]:
    """Deterministic train / val / test split of sample names by a seed (test takes the rest)."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    n_train = round(len(order) * fractions[0])
    n_val = round(len(order) * fractions[1])
    return {
        "train": sorted(order[:n_train]),
        "val": sorted(order[n_train : n_train + n_val]),
        "test": sorted(order[n_train + n_val :]),
    }


def layout(image: np.ndarray) -> str:
    """A scanner-layout key for reporting: the capture's size and colour mode."""
    return f"{image.shape[1]}x{image.shape[0]}{'c' if image.ndim == 3 else 'g'}"


def split_holdout(
    samples: list[Sample], holdout: str, seed: int = 0, fractions: tuple[float, float] = (0.7, 0.15)
) -> dict[str, list[str]]:
    """Hold out a whole scanner layout as the test split (images whose `layout` starts with `holdout`);
    the other images are split train / val in the ratio of `fractions`."""
    held = [s.name for s in samples if layout(read_image(s.image)).startswith(holdout)]
    if not held:
        raise DataError(f"no image has the layout {holdout!r} (layouts look like '512x512g', '660x556c')")
    rest = sorted({s.name for s in samples} - set(held))
    train_share = fractions[0] / (fractions[0] + fractions[1])
    parts = split(rest, seed, (train_share, 1 - train_share))
    return {"train": parts["train"], "val": sorted(parts["val"] + parts["test"]), "test": sorted(held)}


def load_arrays(
    samples: list[Sample], size: tuple[int, int], cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Samples -> X float32 (N, H, W, 1), Y uint8 (N, H, W) through the edge preprocessing (auto ROI).

    Returns X, Y, the names used and the problems (unreadable files, bad masks) that were skipped.
    Cached by content key in `cache_dir` when given.
    """
    code = b"".join(
        Path(m.__file__).read_bytes() for m in (edge.core.preprocess, edge.core.grey, edge.core.roi, edge.core.labels)
    )
    spec = json.dumps([size, [(s.name, str(s.mask), s.kind) for s in samples]]).encode()
    key = hashlib.sha1(code + spec).hexdigest()[:16]  # preprocessing code is part of the key
    cache = cache_dir / f"arrays_{key}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        data = np.load(cache, allow_pickle=False)
        return data["x"], data["y"], data["names"].tolist(), data["problems"].tolist()
    xs, ys, names, problems = [], [], [], []
    for s in samples:
        try:
            image = read_image(s.image)
            labels = read_labels(s)
            if labels.shape != image.shape[:2]:
                raise DataError(f"{s.mask}: mask is {labels.shape[::-1]}, image is {image.shape[1::-1]}")
            roi = detect_bmode_roi(image)
            xs.append(prepare_input(to_grey(image), roi, size))
            ys.append(prepare_labels(labels, roi, size))
            names.append(s.name)
        except (DataError, ValueError) as exc:
            problems.append(f"{s.name}: {exc}")
    if not xs:
        raise DataError("no usable samples: " + "; ".join(problems[:3]))
    x = np.stack(xs)[..., None].astype(np.float32)
    y = np.stack(ys).astype(np.uint8)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=x, y=y, names=np.array(names), problems=np.array(problems, dtype=str))
    return x, y, names, problems
