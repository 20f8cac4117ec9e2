"""The training pipeline's subcommands: train, qat, convert, evaluate, edgetpu-check, pipeline, holdouts, adapt.

Plugged into `tlfseg` through the ``tlfseg.commands`` entry point. Only argparse and the option table
(`quantization.config`) at module level; TensorFlow is imported inside the handlers (a missing 'train' extra
becomes one line). The training and QAT options are built from the table.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from edge.core.values import arg
from quantization.config import AdaptConfig, Option, QatConfig, TrainConfig, options, parse_seed


def _add_train_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("training (defaults: the paper's recipe, or the run's stored config when resuming)")
    add_options(group, TrainConfig)


def add_options(group, config_class, prefix: str = "") -> None:
    """The options of a config class's table (`quantization.config`), `prefix` after the dashes (--qat-lr). They
    default to None, "not given": the handler fills in the run's stored config or the class's defaults."""
    defaults = config_class()
    for name, opt in options(config_class):
        flag, default = opt.named(prefix), getattr(defaults, name)
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=_help(opt, default))
        else:
            parse = arg(flag, **opt.limits) if opt.limits else opt.type
            group.add_argument(flag, type=parse, choices=opt.choices, metavar=opt.metavar, help=_help(opt, default))


def _help(opt: Option, default) -> str:
    """The option's help with its default, in the option's own words."""
    if default is None:
        return opt.help
    if isinstance(default, bool) or (opt.lever and not default):
        return f"{opt.help} (default {'on' if default else 'off'})"
    return f"{opt.help} (default {opt.text(default)})"


def given_options(args: argparse.Namespace, config_class, prefix: str = "") -> dict:
    """The fields of `config_class` whose options were given."""
    values = {name: getattr(args, opt.named(prefix)[2:].replace("-", "_")) for name, opt in options(config_class)}
    return {name: value for name, value in values.items() if value is not None}


def _config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig: the run's stored config (or the paper's defaults), overridden by the options given."""
    cfg_file = Path(args.run) / "config.json"
    base = TrainConfig.load(cfg_file) if cfg_file.exists() else TrainConfig()
    return dataclasses.replace(base, **given_options(args, TrainConfig))


def _qat_config(args: argparse.Namespace, prefix: str = "") -> QatConfig:
    return QatConfig(**given_options(args, QatConfig, prefix))


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

    print(f"saved {qat(_existing_run(args.run), _qat_config(args))}")
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

    ship_to = (Path(args.ship_dir) if args.ship_dir else SHIP_DIR) if args.ship else None
    run(args.run, _config(args), _qat_config(args, "qat-"), ship_to)
    return 0


def _holdouts(args: argparse.Namespace) -> int:
    from quantization.holdouts import leave_layout_out, summarise

    if args.summary:
        summarise(args.run, args.layouts, args.seeds)
        return 0
    Path(args.run).mkdir(parents=True, exist_ok=True)
    leave_layout_out(args.run, _config(args), args.layouts, args.seeds, _qat_config(args, "qat-"))
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from edge.tools.errors import CommandError
    from quantization.adapt import adapt
    from quantization.adapt_data import Frames
    from quantization.data import DataError

    cfg = AdaptConfig(**given_options(args, AdaptConfig))
    try:
        adapt(args.run, cfg, Frames(args.images, args.masks, args.band_masks))
    except DataError as exc:
        raise CommandError(str(exc)) from None
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
    add_options(p, QatConfig)
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
    add_options(p, QatConfig, "qat-")
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
    add_options(p, QatConfig, "qat-")
    p.add_argument("--layouts", nargs="+", default=list(LAYOUTS), metavar="LAYOUT", help="layouts to hold out")
    p.add_argument("--seeds", nargs="+", type=parse_seed, default=[0], metavar="N", help="seeds (default 0)")
    p.add_argument("--summary", action="store_true", help="only summarise the runs already there")
    p.set_defaults(handler=_holdouts)

    p = sub.add_parser(
        "adapt",
        help="fine-tune a trained model on a few labelled frames of your scanner, measured before / after (resumable)",
        description="Fine-tune the bundled model (or a run) on your labelled frames, replaying its own training images "
        "so the layouts it knew are not forgotten; then QAT, int8 conversion and adapt.md with before / after on "
        "frames held back and on the layouts it knew. Run again to resume. Details: docs/adapt.md.",
    )
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (created, or resumed)")
    p.add_argument("--images", required=True, metavar="DIR", help="your frames (as tlfseg predict reads them)")
    p.add_argument("--masks", required=True, metavar="DIR", help="their masks, by file stem: 0/1/2 class maps")
    p.add_argument("--band-masks", action="store_true", help="the masks are binary band masks (non-zero = the band)")
    add_options(p.add_argument_group("adaptation"), AdaptConfig)
    p.set_defaults(handler=_adapt)

    from quantization.labelling.cli import register as register_label

    register_label(sub)
