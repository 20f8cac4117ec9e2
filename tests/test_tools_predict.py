"""`tlfseg predict` end to end: label maps, overlays, failures, scoring against masks, clear errors."""

import json

import cv2
import numpy as np
import pytest

import edge.tools.commands.predict
from edge.core.labels import IGNORE
from edge.measurement.metrics import SetMetrics
from edge.tools.cli import main
from edge.tools.predict import json_safe


def read(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"{path} missing or unreadable"
    return image


@pytest.fixture(scope="module")
def frames(phantom):
    return [phantom.frame(i) for i in (0, 9, 21, 40)]


@pytest.fixture
def phantom_dir(tmp_path, frames):
    """Four phantom frames as BGR png, grey png, BGRA png and jpg, a corrupt png and a text file."""
    d = tmp_path / "images"
    d.mkdir()
    bgr = [f.image for f in frames]
    cv2.imwrite(str(d / "f0_bgr.png"), bgr[0])
    cv2.imwrite(str(d / "f1_grey.png"), cv2.cvtColor(bgr[1], cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / "f2_bgra.png"), cv2.cvtColor(bgr[2], cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(d / "f3.jpg"), bgr[3])
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (d / "notes.txt").write_text("not an image")
    return d


STEMS = ["f0_bgr", "f1_grey", "f2_bgra", "f3"]


def test_predict_folder_end_to_end(phantom_dir, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["predict", "--images", str(phantom_dir), "--out", str(out), "--overlays"])
    captured = capsys.readouterr()
    assert status == 1  # one image failed
    assert sorted(p.stem for p in out.glob("*.png")) == STEMS
    for stem in STEMS:
        labels = read(out / f"{stem}.png")
        assert labels.shape == (480, 640) and labels.dtype == np.uint8  # native size, one channel
        assert set(np.unique(labels)) <= {0, 1, 2}
        overlay = read(out / "overlays" / f"{stem}.png")
        assert overlay.shape == (480, 640, 3)
    assert not (out / "corrupt.png").exists() and not (out / "notes.png").exists()

    report = json.loads((out / "predict.json").read_text())
    assert report["images"] == 5 and report["segmented"] == 4 and report["failed"] == 1
    reason = "not a readable image (corrupt or unsupported format)"
    assert report["failures"] == [{"image": "corrupt.png", "reason": reason}]
    assert [r["image"] for r in report["results"]] == ["f0_bgr.png", "f1_grey.png", "f2_bgra.png", "f3.jpg"]
    for r in report["results"]:
        x, y, w, h = r["roi"]
        if r["image"].endswith(".png"):
            assert r["roi"] == [110, 40, 400, 420]
        else:  # JPEG ringing around the B-mode edge widens the detected box by a few pixels
            assert x <= 110 and y <= 40 and x + w >= 510 and y + h >= 460 and w <= 410 and h <= 430
        assert r["size"] == [640, 480]
        assert set(r["timings_ms"]) == {"roi", "preprocess", "inference", "postprocess", "measure", "total"}
        assert r["measurement"]["thickness_px"] is not None
    assert report["roi"] == "auto" and report["precision"] == "int8" and report["backend"]
    assert "tlfseg_unet_int8.tflite" in report["model"]
    assert report["latency_ms"]["total"]["n"] == 4
    assert report["paper_comparison"]["paper_seconds_for_87"] == 43.0
    assert "scores" not in report

    assert "[1/5] corrupt.png: FAILED: not a readable image" in captured.out
    assert "[5/5] f3.jpg:" in captured.out
    assert "87 images:" in captured.out and "vs 43 s in the paper" in captured.out
    assert "1 of 5 images failed:" in captured.err and "corrupt.png" in captured.err
    assert "notes.txt" not in captured.out + captured.err


def test_predict_fixed_roi_all_good(phantom_dir, tmp_path, capsys):
    (phantom_dir / "corrupt.png").unlink()
    out = tmp_path / "out"
    assert main(["predict", "--images", str(phantom_dir), "--out", str(out), "--roi", "100,30,420,440"]) == 0
    report = json.loads((out / "predict.json").read_text())
    assert report["roi"] == "100,30,420,440" and report["failures"] == []
    assert all(r["roi"] == [100, 30, 420, 440] for r in report["results"])
    assert not (out / "overlays").exists()


def test_predict_roi_outside_an_image_is_a_failure(phantom_dir, tmp_path, capsys):
    small = np.full((100, 100), 90, np.uint8)
    cv2.imwrite(str(phantom_dir / "small.png"), small)
    out = tmp_path / "out"
    assert main(["predict", "--images", str(phantom_dir), "--out", str(out), "--roi", "100,30,420,440"]) == 1
    failures = json.loads((out / "predict.json").read_text())["failures"]
    assert [f["image"] for f in failures] == ["corrupt.png", "small.png"]
    assert "outside the 100x100 frame" in failures[1]["reason"]
    assert len(list(out.glob("*.png"))) == 4  # the others were still segmented


def test_predict_scores_against_class_masks(phantom_dir, frames, tmp_path, capsys):
    masks = tmp_path / "masks"
    masks.mkdir()
    for stem, frame in zip(STEMS[:3], frames):  # f3 has no mask
        cv2.imwrite(str(masks / f"{stem}.png"), frame.labels)
    out = tmp_path / "out"
    assert main(["predict", "--images", str(phantom_dir), "--out", str(out), "--masks", str(masks)]) == 1
    captured = capsys.readouterr().out
    report = json.loads((out / "predict.json").read_text())
    assert report["unscored"] == [{"image": "f3.jpg", "reason": f"no mask named f3.* in {masks}"}]
    assert (out / "f3.png").exists()  # predicted, not scored
    # the scores are those of the written label maps against the masks
    expected = SetMetrics()
    for stem, frame in zip(STEMS[:3], frames):
        expected.add(stem, read(out / f"{stem}.png"), frame.labels)
    scores = report["scores"]
    assert scores["images"] == 3
    assert scores["micro"]["pixels"] == sum(int((f.labels != IGNORE).sum()) for f in frames[:3])
    assert scores["micro"]["accuracy"] == pytest.approx(expected.summary()["micro"]["accuracy"])
    assert scores["micro"]["dice"] == pytest.approx(expected.summary()["micro"]["dice"])
    by_image = {r["image"]: r for r in report["results"]}
    assert "scores" in by_image["f0_bgr.png"] and "scores" not in by_image["f3.jpg"]
    assert report["paper_scores"]["accuracy"] == 0.94
    assert "micro: accuracy" in captured and "per-class Dice: above" in captured
    assert "1 images not scored:" in captured and "f3.jpg: no mask" in captured
    identity = report["band_identity"]  # the phantom's band is found where it is drawn: no wrong structure
    assert identity["frames"] == 3 and identity["wrong"] == 0 and identity["depth_error_px"]["p90"] < 2
    assert by_image["f0_bgr.png"]["wrong_structure"] is False and "wrong_structure" not in by_image["f3.jpg"]
    assert "band identity over 3 images: 0 wrong structure" in captured


def test_predict_counts_a_band_marked_elsewhere_as_wrong_structure(phantom_dir, frames, tmp_path, capsys):
    """A mask whose band lies far below the one in the image: the prediction is the wrong structure (the label
    check would not score this mask, which marks no bright rows: it is turned off here)."""
    masks = tmp_path / "masks"
    masks.mkdir()
    moved = np.roll(frames[0].labels, 150, axis=0)
    moved[:150][moved[:150] != IGNORE] = 0  # above the moved band is tissue above
    cv2.imwrite(str(masks / f"{STEMS[0]}.png"), moved)
    out = tmp_path / "out"
    main(["predict", "--images", str(phantom_dir), "--out", str(out), "--masks", str(masks), "--no-label-check"])
    report = json.loads((out / "predict.json").read_text())
    assert report["band_identity"]["wrong"] == 1 and report["band_identity"]["wrong_frames"] == [STEMS[0] + ".png"]
    assert "WRONG STRUCTURE" in capsys.readouterr().out


def test_predict_does_not_score_a_mask_that_does_not_sit_on_its_image(phantom_dir, frames, tmp_path, capsys):
    """A mask shifted a band's width off its image (saved against another frame) is listed as not scored, with
    the reason, rather than counted as a wrong structure; --no-label-check scores it anyway."""
    masks = tmp_path / "masks"
    masks.mkdir()
    for stem, frame in zip(STEMS[:2], frames):
        cv2.imwrite(str(masks / f"{stem}.png"), frame.labels)
    shifted = np.roll(frames[0].labels, -25, axis=0)
    shifted[-25:][shifted[-25:] != IGNORE] = 2  # under the band is tissue below
    cv2.imwrite(str(masks / f"{STEMS[0]}.png"), shifted)
    out = tmp_path / "out"
    argv = ["predict", "--images", str(phantom_dir), "--out", str(out), "--masks", str(masks)]
    main(argv)
    report = json.loads((out / "predict.json").read_text())
    unscored = {u["image"]: u["reason"] for u in report["unscored"]}
    assert "lies 25 rows above the bright rows it marks" in unscored[STEMS[0] + ".png"]
    assert report["scores"]["images"] == 1 and report["band_identity"]["wrong"] == 0
    main([*argv, "--no-label-check", "--out", str(tmp_path / "out2")])
    report = json.loads((tmp_path / "out2" / "predict.json").read_text())
    assert report["scores"]["images"] == 2 and report["band_identity"]["wrong_frames"] == [STEMS[0] + ".png"]


def test_predict_real_images_with_band_masks(real_data_dir, real_layouts, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    picks = [paths[0] for layout, paths in sorted(real_layouts.items(), key=lambda kv: -len(kv[1]))[:3]]
    for path in picks:  # links, not copies: the data set stays where it is
        (images / path.name).symlink_to(path)
    out = tmp_path / "out"
    argv = ["predict", "--images", str(images), "--out", str(out), "--masks", str(real_data_dir / "masks")]
    assert main([*argv, "--band-masks", "--overlays"]) == 0
    report = json.loads((out / "predict.json").read_text())
    assert report["masks"] == {"dir": str(real_data_dir / "masks"), "band_masks": True}
    assert report["unscored"] == [] and report["scores"]["images"] == 3
    micro = report["scores"]["micro"]
    assert micro["pixels"] > 100_000 and 0.0 <= micro["accuracy"] <= 1.0
    assert set(micro["dice"]) == {"above", "fascia", "below"}
    for path in picks:
        labels = read(out / path.name)
        assert labels.shape == read(path).shape[:2]
        assert set(np.unique(labels)) <= {0, 1, 2}
    assert "micro: accuracy" in capsys.readouterr().out

    # the same binary masks read as class-id masks are refused, not scored as nonsense
    out2 = tmp_path / "out2"
    assert main(["predict", "--images", str(images), "--out", str(out2), "--masks", str(real_data_dir / "masks")]) == 1
    report = json.loads((out2 / "predict.json").read_text())
    assert report["scores"] is None and len(report["unscored"]) == 3
    assert all("looks like a binary band mask" in u["reason"] for u in report["unscored"])
    assert "no image could be scored" in capsys.readouterr().err


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if not line.startswith("INFO:")]  # LiteRT's own log line
    assert len(lines) == 1, err
    return lines[0]


def test_predict_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    assert main(["predict", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 1
    assert one_line_error(capsys).startswith("tlfseg predict: error: no images (.png, .jpg")


def test_predict_missing_folder(tmp_path, capsys):
    assert main(["predict", "--images", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 1
    assert one_line_error(capsys) == f"tlfseg predict: error: image folder not found: {tmp_path / 'nope'}"


def test_predict_mask_folder_problems(phantom_dir, tmp_path, capsys):
    argv = ["predict", "--images", str(phantom_dir), "--out", str(tmp_path / "o"), "--masks"]
    assert main([*argv, str(tmp_path / "nope")]) == 1
    assert one_line_error(capsys) == f"tlfseg predict: error: mask folder not found: {tmp_path / 'nope'}"
    (tmp_path / "no_masks").mkdir()
    assert main([*argv, str(tmp_path / "no_masks")]) == 1
    assert one_line_error(capsys).startswith("tlfseg predict: error: no masks (.png")
    assert main(["predict", "--images", str(phantom_dir), "--out", str(tmp_path / "o"), "--band-masks"]) == 1
    assert one_line_error(capsys) == "tlfseg predict: error: --band-masks needs --masks DIR"


def test_predict_refuses_to_overwrite_inputs(phantom_dir, tmp_path, capsys):
    assert main(["predict", "--images", str(phantom_dir), "--out", str(phantom_dir)]) == 1
    assert "label maps would overwrite the images" in one_line_error(capsys)
    masks = tmp_path / "masks"
    masks.mkdir()
    before = sorted(p.name for p in phantom_dir.iterdir())
    assert main(["predict", "--images", str(phantom_dir), "--out", str(masks / "."), "--masks", str(masks)]) == 1
    assert "label maps would overwrite the masks" in one_line_error(capsys)
    assert sorted(p.name for p in phantom_dir.iterdir()) == before and not any(masks.iterdir())


def test_predict_bad_model(phantom_dir, tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"garbage")
    assert main(["predict", "--model", str(bad), "--images", str(phantom_dir), "--out", str(tmp_path / "o")]) == 1
    assert "not a TensorFlow Lite flatbuffer" in one_line_error(capsys)


def test_predict_bad_roi(phantom_dir, tmp_path, capsys):
    assert main(["predict", "--images", str(phantom_dir), "--out", str(tmp_path / "o"), "--roi", "1,2,3"]) == 1
    assert "ROI must be 'x,y,w,h'" in one_line_error(capsys)


@pytest.mark.usefixtures("no_edgetpu_runtime")
def test_predict_edgetpu_without_runtime(phantom_dir, tmp_path, capsys):
    argv = ["predict", "--images", str(phantom_dir), "--out", str(tmp_path / "o"), "--delegate", "edgetpu"]
    assert main(argv) == 1
    assert "Edge TPU delegate unavailable" in one_line_error(capsys)


def test_missing_extra_is_one_line(monkeypatch, tmp_path, capsys):
    def needs_serial(args):
        raise ModuleNotFoundError("No module named 'serial'", name="serial")

    monkeypatch.setattr(edge.tools.commands.predict, "run", needs_serial)
    assert main(["predict", "--images", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert one_line_error(capsys) == (
        "tlfseg predict needs the 'bridge' extra (serial is not installed): pip install 'tlfseg[bridge]'"
    )


def test_report_is_strict_json():
    value = {"a": float("nan"), "b": [np.float32(0.5), np.int64(3), float("inf")], "c": (1, "x")}
    safe = json_safe(value)
    assert safe == {"a": None, "b": [0.5, 3, None], "c": [1, "x"]}
    json.dumps(safe, allow_nan=False)
