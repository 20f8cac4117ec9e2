"""`tlfseg adapt` (issue 24): the bundled model fine-tuned on a few labelled frames, measured before / after, as a run
folder the runtime deploys; resumed when rerun; unusable frames refused by name.

One adaptation (7 real frames of the shared set's test split, 2 held back; 6 replayed, 6 known-layout images scored;
1 epoch, 1 QAT epoch) is shared by the module: about 2 minutes on 2 cores, most of it in the TFLite conversion.
The refusals use phantom frames and stop before any training.
"""

import contextlib
import io
import json
import shlex

import cv2
import numpy as np
import pytest

from edge.core.engine import DEFAULT_MODEL
from edge.tools.cli import build_parser, main

pytest.importorskip("tensorflow_model_optimization", reason="the training pipeline needs the 'train' extra")
pytestmark = pytest.mark.slow

#: real frames of the bundled model's test split: your scanner's frames, as far as this test goes
FRAMES = ("img_00003", "img_00014", "img_00051", "img_00071", "img_00073", "img_00082", "img_00102")
SMALL = ["--epochs", "1", "--qat-epochs", "1", "--replay", "6", "--limit", "6", "--oversample", "2", "--batch", "8"]


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _link(folder, names, source):
    for part in ("images", "masks"):
        (folder / part).mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / part / f"{name}.png").symlink_to(source / part / f"{name}.png")
    return ["--images", str(folder / "images"), "--masks", str(folder / "masks"), "--band-masks"]


@pytest.fixture(scope="module")
def adapted(real_data_dir, tmp_path_factory):
    """(run folder, the command's arguments, its output) of one small adaptation from the bundled model."""
    root = tmp_path_factory.mktemp("adapt")
    argv = ["adapt", "--run", str(root / "run"), *_link(root / "frames", FRAMES, real_data_dir), *SMALL]
    status, out, err = _cli(argv)
    assert status == 0, (out + err)[-3000:]
    return root / "run", argv, out


def test_progress_and_the_run_folder(adapted):
    from edge.live.pipeline import FramePipeline

    run, _, out = adapted
    assert "5 of your frames to learn, 2 held back to measure, 6 replayed, 6 images of the layouts it knew" in out
    for step in ("1/5: before", "2/5: fine-tune", "3/5: qat", "4/5: convert", "5/5: after"):
        assert f"== step {step}" in out
    assert "loss:" in out and "485,531 of 488,507 parameters learn" in out  # BatchNorms frozen
    for name in ("qat_int8.tflite", "input_reference.json", "adapt.md", "float_model.h5", "qat_curves.png"):
        assert (run / name).is_file(), name
    pipeline = FramePipeline(run / "qat_int8.tflite", video=False)  # what `tlfseg run --model` loads
    assert pipeline.engine.precision == "int8" and "your frames and replayed ones" in pipeline.describe_reference()


def test_the_held_back_frames_and_known_images_were_never_trained_on(adapted):
    run = adapted[0]
    names = json.loads((run / "adapt.json").read_text())["names"]
    assert len(names["train"]) == 5 and len(names["held_back"]) == 2
    assert set(names["train"]) | set(names["held_back"]) == set(FRAMES)
    assert not set(names["held_back"]) & set(names["replay"])
    assert not set(FRAMES) & set(names["known"]) and len(names["known"]) == 6
    split = json.loads(DEFAULT_MODEL.with_name("model.json").read_text())["split"]["names"]
    assert set(names["known"]) <= set(split["test"]) and set(names["replay"]) <= set(split["train"])


def test_the_before_after_table_holds_the_measured_numbers(adapted):
    from quantization.adapt_report import headline

    run = adapted[0]
    card = (run / "adapt.md").read_text()
    for when in ("before", "after"):
        scored = json.loads((run / f"{when}.json").read_text())
        for part, images in (("held_back", 2), ("known", 6)):
            numbers = headline(scored[part])
            assert numbers["images"] == images
            assert 0.5 < numbers["fascia Dice"] <= 1 and 0.5 < numbers["mean IoU"] <= 1
            assert 0 <= numbers["wrong structure"] <= images and 0 <= numbers["thickness error p90 (px)"] < 50
            row = f"| {when} | {images} | {numbers['fascia Dice']:.3f} | {numbers['mean IoU']:.3f} | "
            assert row in card
    assert "your held-back frames (2)" in card and "the bundled model's test images (6, none of yours)" in card
    assert "| **all** |" in card


def test_the_card_rebuilds_the_run(adapted):
    from quantization.cli import given_options
    from quantization.config import AdaptConfig

    run, argv, _ = adapted
    card = (run / "adapt.md").read_text()
    command = card.split("Rebuild: `", 1)[1].split("`", 1)[0]
    words = shlex.split(command)
    assert words[:2] == ["tlfseg", "adapt"]
    rebuilt = build_parser().parse_args(words[1:])
    given = build_parser().parse_args(argv)
    assert AdaptConfig(**given_options(rebuilt, AdaptConfig)) == AdaptConfig(**given_options(given, AdaptConfig))
    assert (rebuilt.images, rebuilt.masks, rebuilt.band_masks) == (given.images, given.masks, True)


def test_a_rerun_resumes_and_redoes_nothing(adapted):
    run, argv, _ = adapted
    model = (run / "qat_int8.tflite").read_bytes()
    (run / "after.json").unlink()  # as if interrupted before the last measurement
    status, out, err = _cli(argv)
    assert status == 0, err
    assert "resuming the adaptation" in out and "fine-tune: done" in out and "float: already finished" not in out
    assert "qat: already finished" in out and "convert: done" in out and "== step 5/5: after" in out
    assert (run / "qat_int8.tflite").read_bytes() == model and (run / "after.json").is_file()
    status, _, err = _cli([*argv, "--epochs", "2"])
    assert status == 1 and "holds another adaptation (--epochs 1 -> 2)" in err


def test_a_rerun_naming_the_folders_from_elsewhere_resumes(adapted, monkeypatch):
    run, argv, _ = adapted
    frames = run.parent / "frames"
    monkeypatch.chdir(frames)  # the same folders, named relative to another working directory
    relative = [{str(frames / "images"): "images", str(frames / "masks"): "masks"}.get(a, a) for a in argv]
    assert relative != argv
    status, out, err = _cli(relative)
    assert status == 0, err
    assert "resuming the adaptation" in out
    status, _, err = _cli([*relative[:-1], "4"])  # another batch size
    assert status == 1 and "(--batch 8 -> 4)" in err


# --- refusals: phantom frames, no training -------------------------------------------------------------------------


@pytest.fixture
def phantom_frames(tmp_path, phantom):
    """Six phantom frames with 0/1/2 masks; returns (folder, the adapt arguments naming it)."""
    for part in ("images", "masks"):
        (tmp_path / part).mkdir()
    for i in range(6):
        frame = phantom.frame(i * 11)
        cv2.imwrite(str(tmp_path / "images" / f"p{i}.png"), frame.image)
        cv2.imwrite(str(tmp_path / "masks" / f"p{i}.png"), frame.labels)
    return tmp_path, ["--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks")]


def _refused(tmp_path, frame_args, *extra) -> str:
    status, _, err = _cli(["adapt", "--run", str(tmp_path / "run"), *frame_args, *extra])
    assert status == 1
    assert not (tmp_path / "run").exists()  # nothing written
    return err


def test_too_few_frames_are_refused(phantom_frames):
    folder, args = phantom_frames
    for i in (0, 1):
        (folder / "masks" / f"p{i}.png").unlink()  # images without a mask are not used, not refused
    err = _refused(folder, args)
    assert "4 usable labelled frames" in err and "at least 5" in err


def test_masks_that_fail_the_label_check_are_refused_by_name(phantom_frames):
    folder, args = phantom_frames
    mask = cv2.imread(str(folder / "masks" / "p2.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(folder / "masks" / "p2.png"), np.roll(mask, 30, axis=0))
    err = _refused(folder, args)
    assert "1 of your frames cannot be used" in err and "p2: p2.png: the labelled band lies 30 rows" in err
    assert "--no-label-check" in err


def test_another_class_scheme_and_another_size_are_refused_by_name(phantom_frames):
    folder, args = phantom_frames
    mask = cv2.imread(str(folder / "masks" / "p1.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(folder / "masks" / "p1.png"), np.where(mask == 1, 255, 0).astype(np.uint8))  # a band mask
    cv2.imwrite(str(folder / "masks" / "p3.png"), mask[:-8])
    err = _refused(folder, args)
    assert "2 of your frames cannot be used" in err
    assert "p1: " in err and "looks like a binary band mask" in err and "p3: p3.png: the mask is" in err
    err = _refused(folder, [*args, "--band-masks"])  # the 0/1/2 maps read as band masks: every frame refused
    assert "5 of your frames cannot be used" in err and "look like a 0/1/2 label map" in err  # p1: a band mask


def test_a_folder_holding_something_else_is_not_written_into(phantom_frames):
    folder, args = phantom_frames
    (folder / "run").mkdir()
    (folder / "run" / "notes.txt").write_text("mine")
    status, _, err = _cli(["adapt", "--run", str(folder / "run"), *args])
    assert status == 1 and "holds no adaptation" in err
    assert sorted(p.name for p in (folder / "run").iterdir()) == ["notes.txt"]


def test_the_hold_back_is_seeded_and_leaves_enough_to_learn():
    from quantization.adapt_data import hold_back
    from quantization.data import DataError

    names = [f"f{i}" for i in range(10)]
    train, held = hold_back(names, 0.3, 4)
    assert len(held) == 3 and sorted(train + held) == names and hold_back(names, 0.3, 4) == (train, held)
    assert hold_back(names, 0.3, 5) != (train, held)
    assert len(hold_back(names[:5], 0.1, 0)[1]) == 2  # at least two held back
    assert hold_back(names, 0.0, 0) == (names, [])
    with pytest.raises(DataError, match="fewer than 3 to learn from"):
        hold_back(names[:5], 0.7, 0)


def _scored(dice: float, wrong_good: int) -> dict:
    """An `evaluate.score` result of one model, as far as the report reads it."""
    identity = {"frames": 10, "wrong": wrong_good, "wrong_good": wrong_good, "right_flagged": 0}
    model = {"native": {"micro": {"dice": {"fascia": dice}, "mean_iou": dice}}, "band_identity": identity}
    return {"images": 10, "models": {"m": model}}


def test_the_report_says_when_not_to_deploy():
    from quantization.adapt_report import warnings

    def said(held, known):
        return " ".join(warnings({"held_back": ("held", *held), "known": ("known", *known)}))

    assert said((_scored(0.80, 0), _scored(0.85, 0)), (_scored(0.90, 0), _scored(0.895, 0))) == ""
    assert said((_scored(0.85, 0), _scored(0.845, 0)), (_scored(0.90, 0), _scored(0.90, 0))) == ""  # within noise
    assert "Worse after than before on held (fascia Dice 0.850 -> 0.800)" in said(
        (_scored(0.85, 0), _scored(0.80, 0)), (_scored(0.90, 0), _scored(0.90, 0))
    )
    assert "More wrong frames reported good after than before on known" in said(
        (_scored(0.80, 0), _scored(0.85, 0)), (_scored(0.90, 0), _scored(0.90, 1))
    )
    assert "It lost 0.020 fascia Dice on known" in said(
        (_scored(0.80, 0), _scored(0.85, 0)), (_scored(0.90, 0), _scored(0.88, 0))
    )
