"""The training pipeline's subcommands: train, qat, convert, evaluate, edgetpu-check, pipeline.

Plugged into `tlfseg` through the ``tlfseg.commands`` entry point. Only argparse and the standard library at
module level; TensorFlow is imported inside the handlers (a missing 'train' extra becomes one line).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from quantization.recipe import QAT_EPOCHS, QAT_LR, TRAIN_OPTIONS


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training (defaults: the paper's recipe, or the run's stored config when resuming)")
    g.add_argument("--width", type=int, metavar="N", help="base filters of the U-Net (paper: 64; 8 for boards)")
    g.add_argument(
        "--stem",
        type=int,
        choices=(1, 2, 4),
        help="1: the paper's U-Net (default); 2 or 4: strided stem, output at 1/2 or 1/4 of the input's resolution",
    )
    g.add_argument("--size", type=_size, metavar="PX|HxW", help="model input size, e.g. 256 or 320x192 (default 256)")
    g.add_argument("--epochs", type=int, metavar="N", help="maximum epochs (default 200)")
    g.add_argument("--batch", type=int, metavar="N", help="batch size (default 16)")
    g.add_argument("--lr", type=float, metavar="RATE", help="Adam learning rate (default 1e-3)")
    g.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, help="flip/gain/gamma/speckle augmentation (default off)"
    )
    g.add_argument(
        "--warp",
        action=argparse.BooleanOptionalAction,
        help="also small affine warps (rotation/scale/shift; default off)",
    )
    g.add_argument(
        "--rotate",
        type=float,
        metavar="DEG",
        help="instead of --warp: random rotations within +-DEG degrees only, no scale or shift (default 0: off)",
    )
    g.add_argument(
        "--depth-crop",
        type=float,
        metavar="SHARE",
        help="random depth crop: up to SHARE of the rows cut above and below the band, resized back (default 0: off)",
    )
    g.add_argument(
        "--tissue-above",
        type=float,
        metavar="SHARE",
        help="put up to SHARE of the rows of muscle texture above the band, pushing it deeper (default 0: off)",
    )
    g.add_argument(
        "--stretch-above",
        type=float,
        metavar="SHARE",
        help="stretch the rows above the band by up to SHARE of the rows, pushing it deeper (default 0: off)",
    )
    g.add_argument(
        "--dice", type=float, metavar="W", help="add W x (1 - soft fascia Dice) to the cross-entropy (default 0)"
    )
    g.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        help="learning rate: constant (default, the paper) or cosine decay",
    )
    g.add_argument(
        "--teacher",
        metavar="RUN[,RUN...]",
        help="distil the float model of RUN, or the mean of several (an ensemble); same split, a stem as fine or finer",
    )
    g.add_argument("--distill", type=float, metavar="SHARE", help="teacher's share of the targets (default 0.5)")
    g.add_argument("--patience", type=int, metavar="N", help="early stopping after N epochs without improvement")
    g.add_argument("--seed", type=int, help="seed of the split and the training (default 0)")
    g.add_argument(
        "--data", metavar="SOURCE", help="'dl_track_apo' (default, the shared real set) or IMAGES:MASKS[:colours.json]"
    )
    g.add_argument(
        "--holdout", metavar="LAYOUT", help="test on one whole scanner layout never trained on, e.g. 512x512"
    )
    g.add_argument(
        "--split",
        metavar="FILE",
        help="the train/val/test names of FILE (a split.json, or a model.json: retrain on the shipped model's split)",
    )
    g.add_argument(
        "--label-check",
        action=argparse.BooleanOptionalAction,
        help="leave out masks that do not sit on their image, and repeated images (default on; listed as skipped)",
    )
    g.add_argument("--limit", type=int, metavar="N", help="use only the first N image/mask pairs (smoke runs)")


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    try:
        return int(h), int(w or h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be PX or HxW, got {text!r}") from None


def _add_qat_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(f"--{prefix}epochs", type=int, default=QAT_EPOCHS, metavar="N", help="QAT fine-tuning epochs")
    p.add_argument(f"--{prefix}lr", type=float, default=QAT_LR, metavar="RATE", help="QAT learning rate")


def _config(args: argparse.Namespace):
    """TrainConfig: the run's stored config (or the paper's defaults), overridden by the options given."""
    from quantization.train import TrainConfig

    cfg_file = Path(args.run) / "config.json"
    base = TrainConfig.load(cfg_file) if cfg_file.exists() else TrainConfig()
    given = {}
    for option, name in TRAIN_OPTIONS.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is not None:
            given[name] = value
    return dataclasses.replace(base, **given)


def _existing_run(run: str) -> Path:
    from edge.tools.errors import CommandError

    path = Path(run)
    if not (path / "config.json").is_file():
        raise CommandError(f"{path} is not a run directory (no config.json); create it with: tlfseg train --run {path}")
    return path


def _train(args: argparse.Namespace) -> int:
    from quantization.train import train

    print(f"saved {train(args.run, _config(args))}")
    return 0


def _qat(args: argparse.Namespace) -> int:
    from quantization.qat import qat

    if args.epochs < 1:
        raise ValueError("--epochs must be at least 1")
    print(f"saved {qat(_existing_run(args.run), args.epochs, args.lr)}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from quantization.pipeline import convert

    convert(_existing_run(args.run))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from quantization.evaluate import evaluate

    evaluate(_existing_run(args.run), args.split)
    return 0


def _edgetpu_check(args: argparse.Namespace) -> int:
    from quantization.edgetpu import check, format_report

    report = check(args.model)
    print(format_report(report))
    return 0 if report.ready else 1


def _pipeline(args: argparse.Namespace) -> int:
    from quantization.pipeline import run
    from quantization.runs import SHIP_DIR

    if args.qat_epochs < 1:
        raise ValueError("--qat-epochs must be at least 1")
    ship_to = (Path(args.ship_dir) if args.ship_dir else SHIP_DIR) if args.ship else None
    run(args.run, _config(args), args.qat_epochs, args.qat_lr, ship_to)
    return 0


def _holdouts(args: argparse.Namespace) -> int:
    from quantization.holdouts import leave_layout_out, summarise

    if args.summary:
        summarise(args.run, args.layouts, args.seeds)
        return 0
    Path(args.run).mkdir(parents=True, exist_ok=True)
    leave_layout_out(args.run, _config(args), args.layouts, args.seeds, args.qat_epochs, args.qat_lr)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the float U-Net on real data (resumable)",
        description="Train the float U-Net into a run directory; run again to resume after an interruption.",
    )
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (created, or resumed)")
    _add_train_options(p)
    p.set_defaults(handler=_train)

    p = sub.add_parser("qat", help="quantization-aware fine-tuning of a trained run")
    p.add_argument("--run", required=True, metavar="DIR")
    _add_qat_options(p)
    p.set_defaults(handler=_qat)

    p = sub.add_parser("convert", help="write float32, post-training int8 and QAT int8 .tflite models of a run")
    p.add_argument("--run", required=True, metavar="DIR")
    p.set_defaults(handler=_convert)

    p = sub.add_parser("evaluate", help="score a run's .tflite models on held-out images through the edge runtime")
    p.add_argument("--run", required=True, metavar="DIR")
    p.add_argument("--split", default="test", choices=("test", "val", "train"), help="which split (default test)")
    p.set_defaults(handler=_evaluate)

    p = sub.add_parser("edgetpu-check", help="list an int8 model's ops and flag what the Edge TPU cannot run")
    p.add_argument("--model", metavar="M", help=".tflite model (default: the bundled int8 model)")
    p.set_defaults(handler=_edgetpu_check)

    p = sub.add_parser(
        "pipeline",
        help="train -> qat -> convert -> evaluate (-> ship as the bundled model)",
        description="Run the whole pipeline on a run directory; each step resumes or reuses what is there.",
    )
    p.add_argument("--run", required=True, metavar="DIR")
    _add_train_options(p)
    _add_qat_options(p, "qat-")
    p.add_argument("--ship", action="store_true", help="install the QAT int8 model and its model card")
    p.add_argument("--ship-dir", default=None, metavar="DIR", help="where --ship installs (default: edge/models)")
    p.set_defaults(handler=_pipeline)

    from quantization.holdouts import LAYOUTS

    p = sub.add_parser(
        "holdouts",
        help="leave one scanner layout out: train without each layout (per seed), score it (resumable)",
        description="Train the recipe once per held-out layout and seed into RUN/<layout>-seed<N> (the pipeline: "
        "train -> qat -> convert -> evaluate, each resumed), score each on the layout it never saw and summarise "
        "per direction and over both into RUN/holdouts.md.",
    )
    p.add_argument("--run", required=True, metavar="DIR", help="folder of the runs (created)")
    _add_train_options(p)
    _add_qat_options(p, "qat-")
    p.add_argument("--layouts", nargs="+", default=list(LAYOUTS), metavar="LAYOUT", help="layouts to hold out")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="N", help="seeds (default 0)")
    p.add_argument("--summary", action="store_true", help="only summarise the runs already there")
    p.set_defaults(handler=_holdouts)

    from quantization.labelling.cli import register as register_label

    register_label(sub)
