"""A run's data: its split (drawn by seed, a held-out layout or a given file; kept in RUN/split.json), the samples
of each part and their model-ready arrays."""

from __future__ import annotations

import json
from pathlib import Path

from quantization.config import TrainConfig
from quantization.data import Sample, load_arrays, load_samples, split, split_holdout


def given_split(path: str | Path, names: set[str]) -> dict[str, list[str]]:
    """The train / val / test names of a split.json, or of a model.json (its "split"), kept to `names`: a model
    retrained on the split of the one it replaces is scored on the images neither trained on."""
    raw = json.loads(Path(path).read_text())
    parts = raw["split"].get("names") if isinstance(raw, dict) and isinstance(raw.get("split"), dict) else raw
    if not isinstance(parts, dict) or not {"train", "val", "test"} <= set(parts):
        raise ValueError(f"{path} holds no train / val / test split (a split.json, or a model.json with one)")
    given = [set(parts[part]) for part in ("train", "val", "test")]
    if given[0] & given[1] or given[0] & given[2] or given[1] & given[2]:
        raise ValueError(f"{path}: an image is in two parts of the split")
    kept = {part: sorted(g & names) for part, g in zip(("train", "val", "test"), given)}
    if not kept["train"] or not kept["val"]:
        raise ValueError(f"{path}: none of its train or validation images are in this data (another data set?)")
    return kept


def prepare_data(cfg: TrainConfig, run_dir: Path) -> dict:
    """Load, split (written to split.json) and preprocess the data; returns arrays per split."""
    samples, problems = load_samples(cfg.data, cfg.label_check)
    samples = samples[: cfg.limit] if cfg.limit else samples
    by_name = {s.name: s for s in samples}
    split_file = run_dir / "split.json"
    if split_file.exists():
        parts = json.loads(split_file.read_text())
    elif cfg.split:
        if cfg.holdout:
            raise ValueError("--split gives the whole split; --holdout draws one: give one of them")
        parts = given_split(cfg.split, set(by_name))
        split_file.write_text(json.dumps(parts, indent=1))
    elif cfg.holdout:
        parts = split_holdout(samples, cfg.holdout, cfg.seed, cfg.fractions)
        split_file.write_text(json.dumps(parts, indent=1))
    else:
        parts = split(sorted(by_name), cfg.seed, cfg.fractions)
        split_file.write_text(json.dumps(parts, indent=1))
    out = {"problems": problems}
    cache = run_dir.parent / ".cache"
    for part, names in parts.items():
        names = [n for n in names if n in by_name]  # a split written before the label check left some out
        if not names:
            continue
        x, y, used, skipped = load_arrays([by_name[n] for n in names], cfg.input_size, cache)
        out[part] = (x, y, used)
        out["problems"] += skipped
    for p in out["problems"]:
        print(f"skipped: {p}", flush=True)
    return out


def split_samples(run_dir: str | Path, part: str) -> tuple[list[Sample], list[str]]:
    """The samples of one part of a run's split ("train", "val", "test") and the problems: those the label check
    left out, those not found in the data."""
    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    parts = json.loads((run_dir / "split.json").read_text())
    if part not in parts:
        raise ValueError(f"no split {part!r} in {run_dir}/split.json (has {sorted(parts)})")
    names = set(parts[part])
    if not names:
        raise ValueError(f"the {part} split of {run_dir} is empty")
    samples, problems = load_samples(cfg.data, cfg.label_check)
    kept = [s for s in samples if s.name in names]
    left_out = [p for p in problems if p.split(":", 1)[0] in names]  # by the label check
    named = {p.split(":", 1)[0] for p in left_out} | {s.name for s in kept}
    missing = [f"{n}: listed in the split but not found in the data" for n in sorted(names - named)]
    return kept, left_out + missing
