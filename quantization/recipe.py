"""A run's recipe in words, read off the option table (`quantization.config`): the options that rebuild it, the
command that rebuilds a run from scratch (the model card's reproduce line) and the card's description of the recipe.
Standard library only, so the model card needs no TensorFlow."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from pathlib import Path

from quantization.config import Option, QatConfig, options, teacher_runs


def _said(config, name: str, opt: Option) -> bool:
    """Whether a reproduce command names this option: not a lever left at its default or without what it needs."""
    value = getattr(config, name)
    if opt.lever and (value == getattr(type(config)(), name) or (opt.only_with and not getattr(config, opt.only_with))):
        return False
    return value is not None


def option_words(config, prefix: str = "") -> list[str]:
    """The options that turn the defaults into `config` (levers left off are left out); `prefix` as in --qat-lr."""
    words: list[str] = []
    for name, opt in options(config):
        if not _said(config, name, opt):
            continue
        value, flag = getattr(config, name), opt.named(prefix)
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        else:
            words += [flag, opt.text(value)]
    return words


def recipe_phrases(cfg) -> list[str]:
    """The recipe in the model card's words: each option's phrase where it is on, in the table's order."""
    values = asdict(cfg)
    return [
        opt.card.format(**values) for name, opt in options(cfg) if opt.card and _said(cfg, name, opt) and values[name]
    ]


def teacher_first(cfg, command: str) -> str:
    """`command`, preceded by the `tlfseg train` lines of the teachers it distils from (and of theirs)."""
    for run in reversed(teacher_runs(cfg.teacher)):
        teacher_cfg = type(cfg).load(run / "config.json")
        train = shlex.join(["tlfseg", "train", "--run", str(run), *option_words(teacher_cfg)])
        command = f"{teacher_first(teacher_cfg, train)} && {command}"
    return command


def reproduce_command(run_dir: str | Path, cfg, qat_settings: dict) -> str:
    """The command line that rebuilds a run from scratch: `tlfseg pipeline`, after training its teacher if any."""
    qat = option_words(QatConfig(**qat_settings), "qat-")
    words = ["tlfseg", "pipeline", "--run", str(run_dir), *option_words(cfg), *qat, "--ship"]
    return teacher_first(cfg, shlex.join(words))
