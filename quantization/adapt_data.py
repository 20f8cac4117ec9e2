"""What `tlfseg adapt` learns from and is measured on: the user's labelled frames (each checked, a seeded share held
back), the base model (the bundled one or a run) and, from its own data, the images to replay and those of the
layouts it knew to score. No TensorFlow."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge.core.engine import DEFAULT_MODEL
from edge.core.grey import to_grey
from edge.core.label_check import drawn_bands, label_offset
from edge.core.labels import FASCIA
from quantization.config import BUNDLED, AdaptConfig, TrainConfig, options
from quantization.data import DataError, Sample, load_folder, load_samples, picture_key, read_image, read_labels
from quantization.runs import int8_model, model_paths

MIN_FRAMES = 5  #: fewer usable frames than this: refused
MIN_HELD_BACK = 2  #: a hold-back, where asked for, measures at least this many frames
MIN_TRAIN = 3  #: and leaves at least this many to learn from


@dataclass(frozen=True)
class Frames:
    """The user's labelled frames, named as `tlfseg predict` names them."""

    images: str
    masks: str
    band_masks: bool = False


@dataclass(frozen=True)
class Base:
    """The model adapted: its training config (architecture, data), its split and its int8 model, which is also where
    fine-tuning starts (its weights dequantized: `quantization.from_tflite`)."""

    name: str  #: "bundled" or the run directory
    config: TrainConfig
    split: dict[str, list[str]]
    int8: Path


def base_model(spec: str) -> Base:
    """`--from`: the bundled model, or a run of `tlfseg train` / `pipeline` (its config, split and int8 model);
    DataError saying what is missing."""
    if spec == BUNDLED:
        meta = json.loads(DEFAULT_MODEL.with_name("model.json").read_text())
        config = TrainConfig.from_dict(meta["training"]["config"])
        return Base(BUNDLED, config, meta["split"]["names"], DEFAULT_MODEL)
    run = Path(spec)
    models = {name: path for name, path in model_paths(run).items() if path.is_file()}
    missing = [p.name for p in (run / "config.json", run / "split.json") if not p.is_file()]
    missing += [] if int8_model(models) else ["qat_int8.tflite"]
    if missing:
        raise DataError(f"--from {run}: not a trained run (no {', '.join(missing)}); give a run of tlfseg pipeline")
    split = json.loads((run / "split.json").read_text())
    return Base(str(run), TrainConfig.load(run / "config.json"), split, models[int8_model(models)])


def frame_problem(sample: Sample, label_check: bool) -> str | None:
    """Why one of the user's frames cannot be used (unreadable, another class scheme, a mask of another size, no
    fascia labelled, a mask that does not sit on its image), None where it can."""
    try:
        image, labels = read_image(sample.image), read_labels(sample)
    except DataError as exc:
        return str(exc)
    if labels.shape != image.shape[:2]:
        (h, w), (ih, iw) = labels.shape, image.shape[:2]
        return f"{sample.mask.name}: the mask is {w}x{h}, the image {iw}x{ih}"
    if not (labels == FASCIA).any():
        return f"{sample.mask.name}: no fascia labelled (class 1)"
    if label_check:
        mask = read_image(sample.mask) if sample.kind == "band" else labels
        offset = label_offset(to_grey(image), drawn_bands(mask, sample.kind == "band"))
        if offset is not None and offset.misregistered:
            return f"{sample.mask.name}: {offset.describe()} (fix the mask, or --no-label-check)"
    return None


def read_frames(frames: Frames, label_check: bool = True) -> tuple[list[Sample], dict[str, str], list[str]]:
    """The usable frames, their picture keys by name, and notes (images without a mask, repeated pictures: left
    out); DataError naming every labelled frame that cannot be used, or saying there are too few."""
    try:
        samples, unlabelled = load_folder(frames.images, frames.masks, band=frames.band_masks)
    except (DataError, FileNotFoundError) as exc:
        raise DataError(str(exc)) from None
    notes = [f"{len(unlabelled)} images without a mask are not used"] if unlabelled else []
    usable, keys, problems, seen = [], {}, [], {}
    for sample in samples:
        problem = frame_problem(sample, label_check)
        if problem:
            problems.append(f"{sample.name}: {problem}")
            continue
        key = picture_key(to_grey(read_image(sample.image)))
        if key in seen:
            notes.append(f"{sample.name}: left out, the same picture as {seen[key]}")
            continue
        seen[key], keys[sample.name] = sample.name, key
        usable.append(sample)
    if problems:
        kind = "binary band masks" if frames.band_masks else "0/1/2 class maps (--band-masks: binary band masks)"
        raise DataError(
            f"{len(problems)} of your frames cannot be used (masks read as {kind}):\n  " + "\n  ".join(problems)
        )
    if len(usable) < MIN_FRAMES:
        raise DataError(
            f"{len(usable)} usable labelled frames in {frames.images}: adapting needs at least {MIN_FRAMES}"
        )
    return usable, keys, notes


def hold_back(names: list[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """(trained, held back): a seeded `share` of `names` (at least `MIN_HELD_BACK`) kept out of training; none for 0."""
    if not share:
        return sorted(names), []
    order = sorted(names)
    random.Random(seed).shuffle(order)
    count = max(MIN_HELD_BACK, round(share * len(order)))
    if len(order) - count < MIN_TRAIN:
        raise DataError(
            f"holding back {count} of {len(order)} frames leaves fewer than {MIN_TRAIN} to learn from: "
            "label more frames, or give a smaller --hold-back"
        )
    return sorted(order[count:]), sorted(order[:count])


@dataclass
class Plan:
    """Everything an adaptation uses, fixed when it starts (`adapt.json` keeps the names, a rerun must match)."""

    base: Base
    train: list[Sample]  #: the user's frames it learns from
    held_back: list[Sample]  #: the user's frames it is measured on (never trained on)
    replay: list[Sample]  #: the base's training images replayed
    known: list[Sample]  #: images of the layouts the base knew, scored before / after (none of the user's pictures)
    notes: list[str] = field(default_factory=list)

    def names(self) -> dict[str, list[str]]:
        parts = {"train": self.train, "held_back": self.held_back, "replay": self.replay, "known": self.known}
        return {part: [s.name for s in samples] for part, samples in parts.items()}


def base_images(base: Base, cfg: AdaptConfig, user_keys: dict[str, str], held_keys: set[str]):
    """(replay, known) samples of the base's own data: `cfg.replay` of its training images drawn by seed (no picture
    held back among them) and its `cfg.known` split (none of the user's pictures), each cut to `cfg.limit`."""
    try:
        samples, _ = load_samples(base.config.data, base.config.label_check)
    except DataError as exc:
        if not cfg.replay:
            return [], []
        raise DataError(
            f"the base model's training images are not found ({exc}): replay needs them; --replay 0 adapts without "
            "(nothing is then scored on the layouts it knew)"
        ) from None
    by_name = {s.name: s for s in samples}
    user = set(user_keys.values())

    def pictures(names: list[str], unwanted: set[str]) -> list[Sample]:
        kept = [by_name[n] for n in sorted(names) if n in by_name]
        return [s for s in kept if not unwanted or picture_key(to_grey(read_image(s.image))) not in unwanted]

    pool = pictures(base.split["train"], held_keys)
    random.Random(cfg.seed).shuffle(pool)
    count = min(cfg.replay, cfg.limit or cfg.replay)
    known = pictures(base.split[cfg.known], user)[: cfg.limit]
    return sorted(pool[:count], key=lambda s: s.name), known


def plan(cfg: AdaptConfig, frames: Frames) -> Plan:
    """Read and check the frames, hold some back, draw the replay and the known-layout images."""
    base = base_model(cfg.base)
    usable, keys, notes = read_frames(frames, cfg.label_check)
    train, held = hold_back([s.name for s in usable], cfg.hold_back, cfg.seed)
    by_name = {s.name: s for s in usable}
    replay, known = base_images(base, cfg, keys, {keys[n] for n in held})
    if not known:
        notes.append("nothing scored on the layouts the base model knew: its images are not here")
    return Plan(base, [by_name[n] for n in train], [by_name[n] for n in held], replay, known, notes)


def settings(cfg: AdaptConfig, frames: Frames, names: dict[str, list[str]]) -> dict:
    """What `adapt.json` keeps: a rerun of the same run must come to the same. Folders are kept resolved, so the same
    folders named from elsewhere are the same."""
    return _resolved({"config": asdict(cfg), "frames": asdict(frames), "names": names})


def _resolved(kept: dict) -> dict:
    """`adapt.json`'s content with its folders resolved (a relative one: from here)."""
    config, frames = dict(kept.get("config", {})), dict(kept.get("frames", {}))
    for part in ("images", "masks"):
        if part in frames:
            frames[part] = str(Path(frames[part]).resolve())
    if config.get("base", BUNDLED) != BUNDLED:
        config["base"] = str(Path(config["base"]).resolve())
    return {**kept, "config": config, "frames": frames}


def differences(kept: dict, wanted: dict) -> list[str]:
    """What a rerun changes against the run's `adapt.json`, in the command's words (`--lr 0.0001 -> 0.0003`, the
    frames' folders, which frames); folders are compared resolved (a relative one kept: from here)."""
    old = _resolved(kept)
    flags = {name: opt.flag for name, opt in options(AdaptConfig)}
    changed = [
        f"{flags.get(key, key)} {old['config'].get(key)} -> {value}"
        for key, value in wanted["config"].items()
        if old["config"].get(key) != value
    ]
    changed += [
        f"{'--band-masks' if key == 'band_masks' else '--' + key} {old['frames'].get(key)} -> {value}"
        for key, value in wanted["frames"].items()
        if old["frames"].get(key) != value
    ]
    if not changed and old.get("names") != wanted["names"]:
        changed.append("other frames in the folders (or another draw of those held back)")
    return changed
