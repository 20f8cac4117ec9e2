"""The pipeline's subcommands: registration, the missing-extra message, clear errors, the reproduce command."""

import dataclasses
import json
import shlex
import sys

import pytest

from edge.tools.cli import build_parser, main

COMMANDS = ("train", "qat", "convert", "evaluate", "edgetpu-check", "pipeline")


def test_subcommands_are_registered():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(COMMANDS) <= set(choices)


@pytest.mark.parametrize("command", ["train", "pipeline"])
def test_missing_train_extra_is_one_line(command, monkeypatch, capsys, tmp_path):
    """Without TensorFlow, `tlfseg train` names the extra to install in one line, without a traceback."""
    tf_modules = ("tfenv", "train", "unet", "qat", "augment", "distill")
    for name in (f"quantization.{module}" for module in tf_modules):
        monkeypatch.delitem(sys.modules, name, raising=False)  # imported afresh, as in a new process
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails as if not installed
    status = main([command, "--run", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2
    assert (
        err == f"tlfseg {command} needs the 'train' extra (tensorflow is not installed): pip install 'tlfseg[train]'\n"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["qat", "convert", "evaluate"])
def test_steps_need_a_run_directory(command, tmp_path, capsys):
    pytest.importorskip("tf_keras", reason="the training pipeline needs the 'train' extra")
    assert main([command, "--run", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tlfseg {command}: error: ") and "not a run directory" in err and err.count("\n") == 1


def test_train_on_an_empty_folder_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("tf_keras", reason="the training pipeline needs the 'train' extra")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    data = f"{tmp_path / 'images'}:{tmp_path / 'masks'}"
    assert main(["train", "--run", str(tmp_path / "run"), "--data", data, "--width", "4"]) == 1
    assert "error: no image/mask pairs in" in capsys.readouterr().err


def test_reproduce_command_rebuilds_the_config(tmp_path):
    pytest.importorskip("tf_keras", reason="the training pipeline needs the 'train' extra")
    from quantization.cli import _config
    from quantization.config import TrainConfig
    from quantization.recipe import reproduce_command

    cfg = TrainConfig(
        base_filters=8,
        epochs=120,
        augment=True,
        warp=True,
        dice_weight=0.5,
        schedule="cosine",
        patience=25,
        seed=3,
        data="a:b",
        label_check=False,
        limit=40,
    )
    command = reproduce_command(tmp_path / "run", cfg, {"epochs": 7, "learning_rate": 5e-5})
    words = shlex.split(command)
    assert words[:2] == ["tlfseg", "pipeline"] and words[-1] == "--ship"
    args = build_parser().parse_args(words[1:])
    assert _config(args) == cfg
    assert (args.qat_epochs, args.qat_lr) == (7, 5e-5)
    plain = reproduce_command(
        tmp_path / "run", TrainConfig(base_filters=8, augment=True), {"epochs": 7, "learning_rate": 1e-4}
    )
    assert not {"--warp", "--no-warp", "--rotate", "--dice", "--schedule", "--distill"} & set(shlex.split(plain))
    turned = TrainConfig(base_filters=8, augment=True, rotate=10.0)
    words = shlex.split(reproduce_command(tmp_path / "run", turned, {"epochs": 7, "learning_rate": 1e-4}))
    assert "--rotate" in words and _config(build_parser().parse_args(words[1:])) == turned
    assert _config(build_parser().parse_args(shlex.split(plain)[1:])) == TrainConfig(base_filters=8, augment=True)


def test_reproduce_command_of_a_distilled_run_trains_its_teacher_first(tmp_path):
    pytest.importorskip("tf_keras", reason="the training pipeline needs the 'train' extra")
    from quantization.cli import _config
    from quantization.config import TrainConfig
    from quantization.recipe import reproduce_command

    teacher_dir = tmp_path / "teacher"
    teacher_dir.mkdir()
    teacher = TrainConfig(base_filters=8, stem=2, input_size=(384, 192), augment=True, seed=1)
    (teacher_dir / "config.json").write_text(json.dumps(dataclasses.asdict(teacher)))
    student = dataclasses.replace(teacher, stem=4, teacher=str(teacher_dir))
    command = reproduce_command(tmp_path / "student", student, {"epochs": 10, "learning_rate": 1e-4})
    first, second = command.split(" && ")
    train_words, pipeline_words = shlex.split(first), shlex.split(second)
    assert train_words[:4] == ["tlfseg", "train", "--run", str(teacher_dir)] and pipeline_words[1] == "pipeline"
    assert _config(build_parser().parse_args(train_words[1:])) == teacher
    assert _config(build_parser().parse_args(pipeline_words[1:])) == student

    other_dir = tmp_path / "other"  # an ensemble: both teachers trained first, in the order given
    other_dir.mkdir()
    other = dataclasses.replace(teacher, base_filters=16, stretch_above=0.3)
    (other_dir / "config.json").write_text(json.dumps(dataclasses.asdict(other)))
    ensemble = dataclasses.replace(student, teacher=f"{teacher_dir},{other_dir}")
    lines = [
        shlex.split(c)
        for c in reproduce_command(tmp_path / "s", ensemble, {"epochs": 1, "learning_rate": 1e-4}).split(" && ")
    ]
    assert [w[3] for w in lines[:2]] == [str(teacher_dir), str(other_dir)]
    assert _config(build_parser().parse_args(lines[1][1:])) == other
    assert _config(build_parser().parse_args(lines[2][1:])) == ensemble


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["train", "--size", "256x0"], "argument --size: must be >= 1, got 0"),
        (["train", "--depth-crop", "0.5"], "--depth-crop must be a finite number in [0, 0.5), got '0.5'"),
        (["train", "--lr", "nan"], "--lr must be a finite number in (0, inf], got 'nan'"),
        (["train", "--seed", "-1"], "a seed must be in [0, 2**32), got -1"),
        (["qat", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["pipeline", "--qat-lr", "0"], "--qat-lr must be a finite number in (0, inf], got '0'"),
        (["holdouts", "--distill", "1.5"], "--distill must be a finite number in (0, 1], got '1.5'"),
    ],
)
def test_options_are_checked_where_they_are_read(argv, message, tmp_path, capsys):
    """The option table's types refuse a bad value on the command line, in one line, before anything runs."""
    with pytest.raises(SystemExit) as exit_:
        main([argv[0], "--run", str(tmp_path / "run"), *argv[1:]])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_cards_recipe_is_read_from_the_option_table():
    from quantization.config import TrainConfig
    from quantization.recipe import recipe_phrases

    plain = recipe_phrases(TrainConfig())
    assert plain == ["at most 200 epochs", "batch 16", "Adam at learning rate 0.001"]
    levers = recipe_phrases(TrainConfig(augment=True, depth_crop=0.3, dice_weight=0.5, teacher="a,b", patience=25))
    assert levers[3:] == [
        "augmentation (flip, gain, gamma, speckle)",
        "random depth crops (up to 0.3 of the rows, band kept)",
        "0.5 x (1 - soft fascia Dice) per image added to the loss",
        "distilled from a,b (share 0.5)",
        "early stopping after 25 epochs without a better validation loss",
    ]


def test_ship_needs_a_test_split_evaluation(tmp_path):
    from quantization.pipeline import ship

    with pytest.raises(FileNotFoundError, match="evaluate before shipping"):
        ship(tmp_path, tmp_path / "dest")
    (tmp_path / "evaluation.json").write_text('{"split": "val"}')
    with pytest.raises(ValueError, match="not on the test split"):
        ship(tmp_path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
