"""The measured curve of `tlfseg adapt` (issue 24): what k labelled frames of a scanner layout the model never saw buy.

    nice -n 10 python benchmarks/adapt_curve.py --bases runs/w8c_base --seeds 0 1 2 --ks 0 5 10 20 40 --keep

The bases are layout hold-outs (`tlfseg holdouts`: ``BASES/<layout>-seed<N>/``, trained without that layout). For
each base and seed the held-out layout's images (its test split, label-checked) are shuffled by the seed: the first
`POOL` are the frames a user would label (k of them adapt the model: ``--hold-back 0``), the rest score it, the
same images for every k. k = 0 is the base model itself. What it loses on the layouts it knew is scored on the base's
validation split (other layouts, never trained on; `--known val`). The labels' own edge noise bounds the fascia Dice:
each scored label against itself moved one row down and up.

Each (base, k, seed) is a run folder ``OUT/<recipe>/<layout>-seed<N>/k<k>-seed<S>`` (the adaptation, and its
scores in curve.json; resumable: rerun to go on), its frames linked in ``frames-k<k>-seed<S>`` beside it (k = 0:
``OUT/k0/...``, shared by the recipes);
adapt options after the script's own are the recipe (`--recipe` names it). The process lowers its own priority
(nice 10): a training may share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run, picture_path  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.measurement.metrics import SetMetrics  # noqa: E402
from quantization.adapt_report import headline  # noqa: E402
from quantization.config import AdaptConfig  # noqa: E402
from quantization.data import read_labels  # noqa: E402
from quantization.run_data import split_samples  # noqa: E402

GOOD_P90 = "reported good: thickness error p90 (px)"  #: the thickness a clinic reads: of the frames not refused
POOL = 40  #: frames of the held-out layout a user could label; the rest of the layout scores every k
NAME = "adapt_curve"
HEAD = (
    "# Adapting to an unseen scanner layout: the measured curve\n\n"
    "`benchmarks/adapt_curve.py` (issue 24): layout hold-outs (`tlfseg holdouts`, trained without one scanner layout) "
    f"adapted with `tlfseg adapt` on k frames of that layout (the first k of {POOL} drawn by seed), scored through the "
    f"on-device path (int8) on the rest of the layout, the same images for every k; k = 0 is the base model. Nothing "
    "of the k frames is held back (`--hold-back 0`). *Lost on known layouts*: the base's validation split (the "
    "layouts it trained on, images it never saw), before minus after (positive: lost). Targets for "
    "k = 10 (issue 24): no wrong-structure frame reported good, <= 2 % of right frames flagged, per-image thickness "
    "error p90 <= 2 px, fascia Dice >= 0.88 or the labels' edge-noise bound, <= 0.01 lost on the known layouts.\n"
)


def layout_of(base: Path) -> str:
    return base.name.rsplit("-seed", 1)[0]


def draw(base: Path, seed: int) -> tuple[list, list]:
    """(the frames to label, the images that score): the held-out layout shuffled by `seed`, split at `POOL`."""
    samples, _ = split_samples(base, "test")
    order = sorted(samples, key=lambda s: s.name)
    random.Random(seed).shuffle(order)
    return order[:POOL], sorted(order[POOL:], key=lambda s: s.name)


def link_frames(folder: Path, samples: list) -> tuple[Path, Path]:
    """`folder`/images and masks: links to the samples' files (band masks), as a user's export would hold them."""
    for part in ("images", "masks"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    for s in samples:
        for part, path in (("images", s.image), ("masks", s.mask)):
            link = folder / part / path.name
            if not link.exists():
                link.symlink_to(path.resolve())
    return folder / "images", folder / "masks"


def edge_noise(samples: list) -> float:
    """Fascia Dice of the labels against themselves moved one row down and one row up (micro, both moves pooled)."""
    metrics = SetMetrics()
    for s in samples:
        labels = read_labels(s)
        down, up = labels.copy(), labels.copy()
        down[1:], up[:-1] = labels[:-1], labels[1:]
        metrics.add(f"{s.name}+1", down, labels)
        metrics.add(f"{s.name}-1", up, labels)
    return metrics.summary()["micro"]["dice"]["fascia"]


def point_dir(out: Path, recipe: str, base: Path, k: int, seed: int) -> Path:
    """Where one (recipe, base, k, seed) is kept; k = 0, the base model, is the same for every recipe (OUT/k0)."""
    return out / (recipe if k else "k0") / base.name / f"k{k}-seed{seed}"


def kept_point(out: Path, recipe: str, base: Path, k: int, seed: int) -> dict | None:
    """A point measured before, None where there is none."""
    kept = point_dir(out, recipe, base, k, seed) / "curve.json"
    return {"recipe": recipe if k else "base", **json.loads(kept.read_text())} if kept.is_file() else None


def point(out: Path, recipe: str, base: Path, k: int, seed: int, options: dict) -> dict:
    """One (recipe, base, k, seed): adapted (k > 0) and scored; kept in its folder's curve.json."""
    from quantization.adapt import adapt
    from quantization.adapt_data import Frames
    from quantization.evaluate import score

    run = point_dir(out, recipe, base, k, seed)
    frames, scoring = draw(base, seed)
    measured = kept_point(out, recipe, base, k, seed)
    if measured and GOOD_P90 not in measured["rest"]:  # kept before the column existed: its model scored again
        model = base / "qat_int8.tflite" if k == 0 else run / "qat_int8.tflite"
        measured["rest"] = headline(score(scoring, {"model": model}, "rest of the layout"))
        (run / "curve.json").write_text(json.dumps(measured, indent=1))
    if measured:
        return measured
    print(f"=== {run}: {k} frames, {len(scoring)} scoring images", flush=True)
    if k == 0:
        known, _ = split_samples(base, "val")
        model = base / "qat_int8.tflite"
        result = {"known": headline(score(known, {"base": model}, "known images")), "seconds": 0.0}
        result["edge_noise_dice"] = edge_noise(scoring)
    else:
        images, masks = link_frames(run.parent / f"frames-k{k}-seed{seed}", frames[:k])
        cfg = AdaptConfig(**{**options, "base": str(base), "hold_back": 0.0, "known": "val", "seed": seed})
        adapted = adapt(run, cfg, Frames(str(images), str(masks), band_masks=True))
        model = run / "qat_int8.tflite"
        result = {"known": headline(adapted["after"]["known"]), "seconds": sum(adapted["seconds"].values())}
    result.update(k=k, seed=seed, base=str(base), layout=layout_of(base), frames=[s.name for s in frames[:k]])
    result["recipe"] = recipe if k else "base"
    result["rest"] = headline(score(scoring, {"model": model}, "rest of the layout"))
    run.mkdir(parents=True, exist_ok=True)
    (run / "curve.json").write_text(json.dumps(result, indent=1))
    return result


def _spread(values: list) -> tuple[float | None, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return None, None
    return statistics.fmean(known), statistics.stdev(known) if len(known) > 1 else None


def _cell(values: list, fmt: str) -> str:
    mean, sd = _spread(values)
    if mean is None:
        return "-"
    return fmt.format(mean) + (f" +- {fmt.replace('+', '').format(sd)}" if sd else "")


def row_values(point: dict, zero: dict | None) -> dict:
    """One point's numbers for the table: on the rest of the layout, and the known layouts' change against k = 0."""
    rest, known = point["rest"], point["known"]
    lost = None
    if zero and known.get("fascia Dice") is not None and zero["known"].get("fascia Dice") is not None:
        lost = zero["known"]["fascia Dice"] - known["fascia Dice"]
    return {
        "fascia Dice": rest["fascia Dice"],
        "wrong structure": rest["wrong structure"] / rest["images"],
        "wrong, reported good": rest["wrong, reported good"],
        "right, flagged": rest["right, flagged"] / rest["right"] if rest["right"] else None,
        "thickness p90 (px)": rest["thickness error p90 (px)"],
        "good thickness p90 (px)": rest.get(GOOD_P90),
        "known lost": lost,
        "known wrong": known.get("wrong structure"),
        "minutes": point["seconds"] / 60,
        "edge noise": point.get("edge_noise_dice"),
    }


def table(points: list[dict]) -> str:
    """Mean +- sd over seeds per (layout, k, recipe)."""
    zeros = {(p["layout"], p["base"], p["seed"]): p for p in points if p["k"] == 0}
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for p in points:
        zero = zeros.get((p["layout"], p["base"], p["seed"]))
        groups.setdefault((p["layout"], p["k"], p["recipe"]), []).append(row_values(p, zero))
    head = (
        "| held-out layout | k | recipe | runs | fascia Dice | wrong-structure frames | "
        "wrong, reported good (frames) | right frames flagged | thickness error p90 (px, an image) | "
        "the same, frames reported good | "
        "lost on known layouts (Dice) | known layouts: wrong structure | time (min) |"
    )
    rows = [head, "|---" * 13 + "|"]
    for (layout, k, recipe), values in sorted(groups.items()):
        cells = [
            _cell([v["fascia Dice"] for v in values], "{:.3f}"),
            _cell([v["wrong structure"] for v in values], "{:.1%}"),
            _cell([v["wrong, reported good"] for v in values], "{:.1f}"),
            _cell([v["right, flagged"] for v in values], "{:.1%}"),
            _cell([v["thickness p90 (px)"] for v in values], "{:.1f}"),
            _cell([v["good thickness p90 (px)"] for v in values], "{:.1f}"),
            _cell([v["known lost"] if k else None for v in values], "{:+.3f}"),
            _cell([v["known wrong"] for v in values], "{:.1f}"),
            _cell([v["minutes"] if k else None for v in values], "{:.1f}"),
        ]
        rows.append(f"| {layout} | {k} | {recipe} | {len(values)} | " + " | ".join(cells) + " |")
    noise = {p["layout"]: p["edge_noise_dice"] for p in points if p.get("edge_noise_dice") is not None}
    if noise:
        words = ", ".join(f"{layout} {dice:.3f}" for layout, dice in sorted(noise.items()))
        rows += ["", f"Edge-noise bound (a label against itself moved one row, fascia Dice): {words}."]
    return "\n".join(rows)


def plot(points: list[dict], path: Path) -> Path:
    """Fascia Dice and thickness error p90 against k, per held-out layout (mean and spread over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for colour, layout in enumerate(sorted({p["layout"] for p in points})):
        mine = [p for p in points if p["layout"] == layout]
        ks = sorted({p["k"] for p in mine})
        panels = (
            (axes[0], "fascia Dice", "-", ""),
            (axes[1], "thickness error p90 (px)", "-", ", every frame"),
            (axes[1], GOOD_P90, ":", ", frames reported good"),
        )
        for ax, key, style, words in panels:
            values = [[p["rest"].get(key) for p in mine if p["k"] == k] for k in ks]
            spreads = [_spread(v) for v in values]
            shown = [(k, m, s or 0) for k, (m, s) in zip(ks, spreads, strict=True) if m is not None]
            if shown:
                x, means, sds = zip(*shown, strict=True)
                ax.errorbar(
                    x,
                    means,
                    yerr=sds,
                    marker="o",
                    ls=style,
                    c=f"C{colour}",
                    capsize=3,
                    label=f"{layout} held out{words}",
                )
    axes[0].axhline(0.88, ls="--", c="grey", lw=1, label="target at k = 10")
    axes[1].axhline(2.0, ls="--", c="grey", lw=1, label="target at k = 10")
    for ax, title in zip(axes, ("fascia Dice (rest of the layout)", "thickness error p90 (px, an image)"), strict=True):
        ax.set_xlabel("labelled frames of the new layout (k)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def recipe_words(out: Path, recipe: str) -> str:
    """A recipe's options in words: what its runs' adapt.json set apart from `tlfseg adapt`'s defaults."""
    runs = sorted((out / recipe).glob("*/k*-seed*/adapt.json"))
    if not runs:
        return "not run yet"
    config, defaults = json.loads(runs[0].read_text())["config"], asdict(AdaptConfig())
    fixed = {"base", "hold_back", "known", "seed"}  # set by the curve itself
    changed = {k: v for k, v in config.items() if k not in fixed and v != defaults[k]}
    return ", ".join(f"{k} {v}" for k, v in changed.items()) or "the defaults"


def main(argv: list[str] | None = None) -> int:
    from quantization.cli import add_options, given_options

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bases", default="runs/w8c_base", help="folder of the layout hold-outs (tlfseg holdouts --run)")
    p.add_argument("--layouts", nargs="+", default=["512x512", "660x556"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="base seeds (<layout>-seed<N>)")
    p.add_argument("--adapt-seeds", nargs="+", type=int, help="adaptation seeds per base (default: the base's)")
    p.add_argument("--ks", nargs="+", type=int, default=[0, 5, 10, 20, 40])
    p.add_argument("--out", default="runs/adapt_curve", help="folder of the runs")
    p.add_argument("--recipe", default="default", help="the name of this set of adapt options (a folder in --out)")
    p.add_argument("--summary", nargs="*", metavar="RECIPE", help="only tabulate what is measured, of these recipes")
    p.add_argument("--keep", action="store_true", help="log the table to benchmarks/results/adapt_curve.md")
    p.add_argument("--note", default="")
    add_options(p.add_argument_group("the recipe (tlfseg adapt's options)"), AdaptConfig)
    args = p.parse_args(argv)
    options = given_options(args, AdaptConfig)
    if args.summary is not None and options:
        p.error("--summary reads what the runs hold: give no recipe options with it")
    recipes = args.summary or [args.recipe]
    out = Path(args.out)
    if args.summary is None:
        os.nice(10)
    points, missing, stale = [], [], []
    for seed in args.seeds:
        for layout in args.layouts:
            base = Path(args.bases) / f"{layout}-seed{seed}"
            trained = (base / "evaluation.json").is_file()
            for adapt_seed, k in ((s, k) for s in args.adapt_seeds or [seed] for k in args.ks):
                for recipe in recipes if k else ["base"]:
                    name = f"{base.name} k = {k} seed {adapt_seed} {recipe}"
                    if trained and args.summary is None:  # measured, or what a kept point lacks
                        found = point(out, recipe, base, k, adapt_seed, options)
                    else:
                        found = kept_point(out, recipe, base, k, adapt_seed)
                    points += [found] if found else []
                    stale += [name] if found and GOOD_P90 not in found["rest"] else []
                    why = "" if trained else " (base not trained yet)"
                    missing += [] if found else [name.replace(base.name, base.name + why, 1)]
    body = table(points) if points else "No point measured yet."
    if missing:
        body += "\n\nNot measured yet: " + "; ".join(missing) + "."
    if stale:
        body += (
            "\n\nScored before the column of the frames reported good (run without --summary): "
            + "; ".join(stale)
            + "."
        )
    body += "\n\nRecipes: " + "; ".join(f"{r}: {recipe_words(out, r)}" for r in recipes) + "."
    print(body)
    if args.keep and points:
        picture = plot([p for p in points if p["recipe"] in ("base", recipes[0])], picture_path(NAME))
        body += f"\n\n![fascia Dice and thickness error against k, {recipes[0]}](img/{picture.name})"
        result = {"machine": machine_info(), "recipes": recipes, "points": points, "missing": missing}
        keep_run({**result, "note": args.note}, NAME, HEAD, body, title_suffix=f", recipes {', '.join(recipes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
