"""End to end on real images: `tlfseg pipeline` (train -> qat -> convert -> evaluate -> ship) with a tiny U-Net,
then `tlfseg predict` with the resulting int8 model; resuming, clear errors, the Edge TPU check on its models.

One pipeline run (12 real images, width 4, 1 float epoch, 1 QAT epoch) is shared by the module: about 1.5 to
2.5 minutes on 2 busy cores, most of it in the three TFLite conversions.
"""

import contextlib
import io
import json
import shutil

import cv2
import numpy as np
import pytest

from edge.tools.cli import main

pytest.importorskip("tensorflow_model_optimization", reason="the training pipeline needs the 'train' extra")
pytestmark = [pytest.mark.slow, pytest.mark.realdata]

MODELS = ("float32", "ptq_int8", "qat_int8")


@pytest.fixture(scope="module")
def run(real_data_dir, tmp_path_factory):
    """The pipeline on the first 12 real images; returns (run dir, ship dir, printed output)."""
    root = tmp_path_factory.mktemp("pipeline")
    run_dir, ship_dir = root / "run", root / "ship"
    argv = ["pipeline", "--run", str(run_dir), "--width", "4", "--epochs", "1", "--batch", "4", "--limit", "12"]
    argv += ["--dice", "0.5"]  # the Dice term through float training and QAT
    argv += ["--qat-epochs", "1", "--ship", "--ship-dir", str(ship_dir)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    assert status == 0, out.getvalue()[-3000:]
    return run_dir, ship_dir, out.getvalue()


def test_progress_is_printed(run):
    text = run[2]
    for step in ("1/5: train", "2/5: qat", "3/5: convert", "4/5: evaluate", "5/5: ship"):
        assert f"== step {step}" in text
    assert "loss:" in text and "val_loss:" in text  # Keras' per-epoch line
    assert "wrote " in text and "int8" in text


def test_run_directory(run):
    run_dir = run[0]
    for name in ("config.json", "split.json", "float_model.h5", "float_curves.png", "qat.weights.h5", "figure4.png"):
        assert (run_dir / name).is_file(), name
    split = json.loads((run_dir / "split.json").read_text())
    assert {k: len(v) for k, v in split.items()} == {"train": 8, "val": 2, "test": 2}
    assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    sizes = {m: (run_dir / f"{m}.tflite").stat().st_size for m in MODELS}
    assert sizes["ptq_int8"] < sizes["float32"] / 2.5 and sizes["qat_int8"] < sizes["float32"] / 2.5


def test_the_input_reference_spans_the_training_images_as_augmented(run):
    """convert writes the range of the training images' input statistics beside the models; the runtime reads it."""
    from edge.core.familiarity import STATISTICS, InputReference
    from edge.live.pipeline import FramePipeline

    run_dir = run[0]
    ref = InputReference.load(run_dir / "input_reference.json")
    assert ref.images == 8 and "8 train images" in ref.source
    assert all(lo < hi for lo, hi in zip(ref.low, ref.high, strict=True)) and len(ref.low) == len(STATISTICS)
    pipeline = FramePipeline(run_dir / "qat_int8.tflite", video=False)
    assert pipeline.reference == ref and "8 train images" in pipeline.describe_reference()


def test_the_reference_spans_the_augmentations_gain_and_gamma_corners():
    """With augmentation, each training image counts at the nine corners of `flip_and_intensity`'s gain and gamma as
    well."""
    from edge.core.familiarity import STATISTICS, input_statistics
    from quantization.augment import GAIN, GAMMA
    from quantization.pipeline import input_statistics_seen

    x = np.random.default_rng(0).uniform(0, 0.8, (2, 64, 32, 1)).astype(np.float32)
    seen = input_statistics_seen(x, augment=True)
    assert seen.shape == (18, len(STATISTICS))
    assert np.allclose(seen[4], input_statistics(x[0, ..., 0]))  # the middle corner: the image as it is
    brightest = input_statistics(np.clip(x[1, ..., 0] * GAIN[1], 0, 1) ** GAMMA[0])
    assert np.allclose(seen[9 + 6], brightest) and seen[9 + 6][0] == seen[9:, 0].max()
    assert input_statistics_seen(x, augment=False).shape == (2, len(STATISTICS))


def test_evaluation(run):
    run_dir = run[0]
    ev = json.loads((run_dir / "evaluation.json").read_text())
    assert ev["split"] == "test" and ev["images"] == 2 and sum(ev["layouts"].values()) == 2
    assert list(ev["models"]) == list(MODELS)
    for name, m in ev["models"].items():
        native = m["native"]
        assert native["images"] == 2 and set(native) >= {"micro", "per_image_mean"}
        assert 0 <= native["micro"]["accuracy"] <= 1 and native["micro"]["pixels"] > 100_000
        assert m["model_resolution"]["micro"]["pixels"] > 0
        assert m["latency_ms"]["inference"] > 0 and m["threads"] == 1
        assert m["precision"] == ("float32" if name == "float32" else "int8")
        assert set(m["native"]["micro"]["iou"]) == {"above", "fascia", "below"}
        agreement = m["agreement_with_float"]
        assert agreement is None if name == "float32" else 0 <= agreement <= 1
        frames = m["frame_thickness_error_px"]
        assert frames["images"] + frames["missed"] == 2 and m["thickness_error_px"]["columns"] > 100
    md = (run_dir / "evaluation.md").read_text()
    qat = ev["models"]["qat_int8"]["native"]["micro"]
    assert f"| qat_int8 | {qat['accuracy']:.3f} | {qat['mean_iou']:.3f} |" in md
    figure = cv2.imread(str(run_dir / "figure4.png"))
    assert figure is not None and figure.shape[1] > figure.shape[0]  # 5 panels side by side
    spread = ev["models"]["qat_int8"]["native"]["fascia_dice_per_image"]
    assert len(spread["worst"]) == 2 and spread["worst"][0][1] <= spread["worst"][1][1]
    assert f"| qat_int8 | {spread['p10']:.3f} / {spread['median']:.3f} /" in md
    assert cv2.imread(str(run_dir / "worst.png")) is not None and "(worst.png)" in md


def test_shipped_files_and_model_card(run):
    run_dir, ship_dir, _ = run
    assert sorted(p.name for p in ship_dir.iterdir()) == [
        "MODEL_CARD.md",
        "input_reference.json",
        "model.json",
        "tlfseg_unet_float32.tflite",
        "tlfseg_unet_int8.tflite",
    ]
    assert (ship_dir / "tlfseg_unet_int8.tflite").read_bytes() == (run_dir / "qat_int8.tflite").read_bytes()
    assert (ship_dir / "input_reference.json").read_bytes() == (run_dir / "input_reference.json").read_bytes()
    meta = json.loads((ship_dir / "model.json").read_text())
    assert meta["input"]["shape"] == [1, 256, 256, 1] and meta["input"]["dtype"] == "int8"
    assert meta["classes"] == {"0": "above", "1": "fascia", "2": "below"}
    assert meta["split"]["sizes"] == {"train": 8, "val": 2, "test": 2}
    assert meta["training"]["config"]["base_filters"] == 4 and meta["training"]["qat"]["epochs"] == 1
    card = (ship_dir / "MODEL_CARD.md").read_text()
    assert "arXiv:2009.04790" in card and "BMC Medical Imaging 25:164" in card and "Apache License 2.0" in card
    assert "8 train, 2 validation" in card and "2 test" in card and "input_reference.json" in card
    assert meta["reproduce"] in card and "--width 4" in meta["reproduce"] and "--limit 12" in meta["reproduce"]
    assert "--dice 0.5" in meta["reproduce"] and "0.5 x (1 - soft fascia Dice)" in card
    ev = json.loads((run_dir / "evaluation.json").read_text())
    ptq = ev["models"]["ptq_int8"]["native"]["micro"]
    assert f"| ptq_int8 | {ptq['accuracy']:.3f} |" in card  # the evaluation table, numbers from the run
    shipped = meta["evaluation"]["models"]["qat_int8"]  # the thickness errors the clinic report's caveat reads
    assert shipped["frame_thickness_error_px"] == ev["models"]["qat_int8"]["frame_thickness_error_px"]


def test_the_card_quotes_how_the_model_compares_with_the_one_it_replaces(run, tmp_path):
    """RUN/replaces.md (hold-outs, wrong-structure frames, stress: measured outside the run) goes into the card."""
    from quantization.model_card import REPLACES, card, collect

    run_dir = run[0]
    assert "## Against the model it replaces" not in card(collect(run_dir))
    (run_dir / REPLACES).write_text("Worse with the tissue starting deeper: x0.72 against x0.78.\n")
    try:
        text = card(collect(run_dir))
    finally:
        (run_dir / REPLACES).unlink()
    head, _, rest = text.partition("## Against the model it replaces\n\nWorse with the tissue starting deeper")
    assert rest and "## Evaluation" in rest and "## Evaluation" not in head


def test_predict_with_the_pipeline_model_scores_like_evaluate(run, real_data_dir, tmp_path, capsys):
    """`tlfseg predict` on the two test images gives the same scores the evaluation measured."""
    run_dir = run[0]
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    test_names = json.loads((run_dir / "split.json").read_text())["test"]
    for name in test_names:
        shutil.copy(real_data_dir / "images" / f"{name}.png", images)
        shutil.copy(real_data_dir / "masks" / f"{name}.png", masks)
    out = tmp_path / "out"
    model = run_dir / "qat_int8.tflite"
    argv = ["predict", "--model", str(model), "--images", str(images), "--out", str(out), "--masks", str(masks)]
    assert main([*argv, "--band-masks"]) == 0
    capsys.readouterr()
    for name in test_names:
        labels = cv2.imread(str(out / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        image = cv2.imread(str(images / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert labels.shape == image.shape[:2] and set(np.unique(labels)) <= {0, 1, 2}
    report = json.loads((out / "predict.json").read_text())
    ev = json.loads((run_dir / "evaluation.json").read_text())["models"]["qat_int8"]["native"]["micro"]
    assert report["scores"]["micro"]["pixels"] == ev["pixels"]
    assert report["scores"]["micro"]["accuracy"] == pytest.approx(ev["accuracy"], abs=1e-9)


def test_rerun_resumes_and_a_changed_config_is_refused(run, capsys):
    run_dir = run[0]
    assert main(["train", "--run", str(run_dir)]) == 0  # stored config reused, nothing retrained
    assert "float: already finished" in capsys.readouterr().out
    assert main(["train", "--run", str(run_dir), "--width", "8"]) == 1
    assert "holds a run with another configuration" in capsys.readouterr().err
    assert main(["qat", "--run", str(run_dir), "--epochs", "3"]) == 1
    assert "already holds a QAT run" in capsys.readouterr().err


def test_edgetpu_check_on_the_pipeline_models(run, capsys):
    run_dir = run[0]
    assert main(["edgetpu-check", "--model", str(run_dir / "qat_int8.tflite")]) == 0
    assert "READY for edgetpu_compiler" in capsys.readouterr().out
    assert main(["edgetpu-check", "--model", str(run_dir / "float32.tflite")]) == 1
    out = capsys.readouterr().out
    assert "NOT READY" in out and "float32, not 8-bit quantized" in out


def test_convert_a_run_without_qat_writes_float_and_ptq(run, tmp_path, capsys):
    """A float-only run (a distillation teacher, say) converts to float32 and post-training int8 and says why
    there is no QAT model; nothing fails."""
    float_only = tmp_path / "float_only"
    shutil.copytree(run[0], float_only, ignore=shutil.ignore_patterns("qat*", "*.tflite", "evaluation*"))
    assert main(["convert", "--run", str(float_only)]) == 0
    out = capsys.readouterr().out
    assert "no quantization-aware model" in out and "tlfseg qat" in out
    assert sorted(p.name for p in float_only.glob("*.tflite")) == ["float32.tflite", "ptq_int8.tflite"]
