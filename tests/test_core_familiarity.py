"""edge.core.familiarity: a frame's input statistics against its model's training range (the `unfamiliar` flag),
the reference file beside a model, and the runtime flagging frames it has no business reading."""

import json
import shutil

import cv2
import numpy as np
import pytest

from edge.core.engine import DEFAULT_MODEL
from edge.core.familiarity import (
    FLOOR,
    REFERENCE_FILE,
    STATISTICS,
    WIDEN,
    InputReference,
    InputReferenceError,
    input_statistics,
    reference_beside,
)
from edge.core.preprocess import prepare_input
from edge.core.roi import detect_bmode_roi
from edge.live.pipeline import FramePipeline

NAMES = list(STATISTICS)


def speckle(seed: int = 0, shape=(384, 192)) -> np.ndarray:
    """A B-mode-like input: multiplicative speckle over a bright band a third of the way down."""
    rng = np.random.default_rng(seed)
    x = np.full(shape, 0.2, np.float32)
    x[shape[0] // 3 : shape[0] // 3 + 8] = 0.7
    return np.clip(x * rng.rayleigh(0.8, shape).astype(np.float32), 0, 1)


def stat(x: np.ndarray, name: str) -> float:
    return float(input_statistics(x)[NAMES.index(name)])


def test_each_statistic_moves_with_what_it_names():
    x = speckle()
    assert stat(x * 1.5, "brightness") == pytest.approx(1.5 * stat(x, "brightness"), rel=0.05)
    assert stat(x * 1.5, "contrast") > 1.4 * stat(x, "contrast")
    assert stat(x * 0.1, "dark") > 0.5 > stat(x, "dark")
    assert stat(np.clip(x * 3, 0, 1), "bright") > 0.05 > stat(x, "bright")
    blurred = cv2.GaussianBlur(x, (0, 0), 3)
    assert stat(blurred, "texture") < 0.3 * stat(x, "texture")
    assert stat(x * 0.5, "texture") == pytest.approx(stat(x, "texture"), rel=1e-4)  # gain alone: same texture
    deeper = x.copy()
    deeper[250:] += 0.3
    assert stat(np.clip(deeper, 0, 1), "echo_depth") > stat(x, "echo_depth") + 0.05
    black = input_statistics(np.zeros((384, 192), np.float32))
    assert black.tolist() == [0, 0, 1, 0, 0, 0]  # no division by a zero contrast or a zero echo


def test_the_reference_is_the_training_range_widened_and_admits_every_validation_image():
    train = np.array([[0.2, 0.1, 0.1, 0.0, 0.2, 0.4], [0.3, 0.2, 0.3, 0.02, 0.3, 0.5]])
    ref = InputReference.from_statistics(train, source="two images")
    assert ref.low[0] == pytest.approx(0.2 - WIDEN * 0.1) and ref.high[0] == pytest.approx(0.3 + WIDEN * 0.1)
    assert ref.images == 2 and ref.outside(train[0]) == [] and ref.outside(train[1]) == []
    far = train[1].copy()
    far[[1, 4]] = [0.45, 0.01]
    assert ref.outside(far) == ["contrast", "texture"]
    val = far[None]
    wider = InputReference.from_statistics(train, val, images=1)
    assert wider.outside(far) == [] and wider.images == 1  # a validation image is never flagged
    with pytest.raises(ValueError, match="at least one training image"):
        InputReference.from_statistics(np.zeros((0, len(NAMES))))


def test_the_range_has_a_floor_and_stays_within_what_each_statistic_can_be(tmp_path):
    one = input_statistics(speckle())
    ref = InputReference.from_statistics(one[None])  # one image: no range of its own to widen
    nudged = speckle().copy()
    nudged[:2] += 0.01  # a trace of difference: not a frame unlike the training image
    assert ref.outside(input_statistics(nudged)) == []
    low, high = np.array(ref.low), np.array(ref.high)
    assert (low >= 0).all() and (high[[0, 1, 2, 3, 5]] <= [1, 0.5, 1, 1, 1]).all()
    assert (high - low >= 2 * FLOOR - 1e-12).all() or (low == 0).any()
    train = np.array([input_statistics(speckle(i)) for i in range(3)])
    val = train[:1] * [1, 1, 1, 1, 1.3, 1]  # beyond the widened texture range: the range takes it in
    ref = InputReference.from_statistics(train, val)
    assert ref.high[NAMES.index("texture")] == pytest.approx(val[0, NAMES.index("texture")])
    back = InputReference.load(ref.save(tmp_path / REFERENCE_FILE))  # saved rounded outwards: still admitted
    assert back.outside(val[0]) == [] and ref.outside(val[0]) == []


def test_the_reference_file_round_trips_and_a_broken_one_is_named(tmp_path):
    ref = InputReference.from_statistics(np.array([input_statistics(speckle(i)) for i in range(4)]), source="s")
    path = ref.save(tmp_path / REFERENCE_FILE)
    data = json.loads(path.read_text())
    assert list(data["statistics"]) == NAMES and data["images"] == 4
    back = InputReference.load(path)
    assert back.source == "s" and back.images == 4
    assert np.allclose(back.low, ref.low, atol=1e-6) and np.allclose(back.high, ref.high, atol=1e-6)
    assert reference_beside(tmp_path / "model.tflite") == back
    assert reference_beside(tmp_path / "sub" / "model.tflite") is None
    del data["statistics"]["texture"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputReferenceError, match=f"{REFERENCE_FILE}: not an input reference.*texture"):
        InputReference.load(path)
    path.write_text("{not json")
    with pytest.raises(InputReferenceError, match="not an input reference"):
        InputReference.load(path)
    data = ref.to_dict()
    data["statistics"]["dark"].update(low=0.9, high=0.1)
    path.write_text(json.dumps(data))
    with pytest.raises(InputReferenceError, match="low <= high"):
        InputReference.load(path)


@pytest.fixture(scope="module")
def bundled():
    return FramePipeline(video=False)


def test_the_bundled_model_reads_its_reference_and_passes_every_real_image(bundled, real_data_dir):
    """Every layout of the shared set lies inside the bundled model's reference: no frame of it is unfamiliar."""
    assert bundled.reference == InputReference.load(DEFAULT_MODEL.with_name(REFERENCE_FILE))
    assert "263 train images" in bundled.describe_reference()
    paths = sorted((real_data_dir / "images").glob("*.png"))
    assert len(paths) == 395
    for path in paths[::4]:
        image = cv2.imread(str(path))
        x = prepare_input(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), detect_bmode_roi(image), (384, 192))
        assert bundled.reference.outside(input_statistics(x)) == [], path.name


def test_frames_the_model_has_no_business_reading_are_flagged_unfamiliar(bundled, real_data_dir):
    image = cv2.imread(str(real_data_dir / "images" / "img_00003.png"))
    clean = bundled(image)
    assert clean.unfamiliar == () and "unfamiliar" not in clean.flags
    saturated = bundled(cv2.convertScaleAbs(image, alpha=3.0))  # gain turned far up: the band clipped to white
    assert saturated.flags == ("unfamiliar",) and saturated.unfamiliar == ("bright",)  # the model alone saw no doubt
    assert not saturated.measurement.good
    flat = bundled(np.full_like(image, 40))  # a blank screen
    assert "unfamiliar" in flat.flags and "texture" in flat.unfamiliar


def test_a_model_without_a_reference_checks_no_statistic_and_a_broken_one_stops_the_start(tmp_path, phantom):
    """Without a reference no input statistic is checked (gain far up passes); that a frame is no B-mode at all (a
    blank screen: flat, one grey level) holds for any model and is still flagged."""
    model = tmp_path / "model.tflite"
    shutil.copyfile(DEFAULT_MODEL, model)
    plain = FramePipeline(model, video=False)
    assert plain.reference is None and "not checked for familiarity" in plain.describe_reference()
    assert plain(cv2.convertScaleAbs(phantom.frame(0).image, alpha=3.0)).unfamiliar == ()
    result = plain(np.full_like(phantom.frame(0).image, 40))
    assert "unfamiliar" in result.flags and result.unfamiliar == ("flat", "one_grey")
    (tmp_path / REFERENCE_FILE).write_text("[]")
    with pytest.raises(InputReferenceError, match="not an input reference"):
        FramePipeline(model, video=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images": 1e999}, "images must be a finite number in [1, inf], got inf"),
        ({"images": 0}, "images must be a finite number in [1, inf], got 0"),
        ({"images": 2.5}, "images must be a whole number, got 2.5"),
        ({"images": True}, "images must be a number, got True"),
        ({"texture": {"high": 1e999}}, "texture high must be a finite number in [0, inf], got inf"),
        ({"brightness": {"low": -1e999}}, "brightness low must be a finite number in [0, 1], got -inf"),
        ({"contrast": {"high": 0.9}}, "contrast high must be a finite number in [0, 0.5], got 0.9"),
        ({"dark": {"low": None}}, "dark low must be a number, got None"),
        ({"echo_depth": {"high": [1]}}, "echo_depth high must be a number, got [1]"),
    ],
)
def test_bad_numbers_in_a_reference_are_refused_naming_the_file(tmp_path, change, message):
    """Issue 25: "images": 1e999 was an OverflowError traceback in `run` and `bridge serve`; an infinite range was
    taken and silently turned the check off while the start-up line still said frames were checked."""
    data = InputReference.from_statistics(np.array([input_statistics(speckle(i)) for i in range(3)])).to_dict()
    for key, value in change.items():
        if isinstance(value, dict):
            data["statistics"][key].update(value)
        else:
            data[key] = value
    path = tmp_path / REFERENCE_FILE
    path.write_text(json.dumps(data))
    with pytest.raises(InputReferenceError) as refused:
        InputReference.load(path)
    assert str(refused.value) == f"{path}: {message}"


def test_run_and_bridge_serve_refuse_a_bad_reference_in_one_line(tmp_path, capsys):
    from edge.tools.cli import main

    model = tmp_path / "model.tflite"
    shutil.copyfile(DEFAULT_MODEL, model)
    data = json.loads(DEFAULT_MODEL.with_name(REFERENCE_FILE).read_text())
    data["images"] = 1e999
    (tmp_path / REFERENCE_FILE).write_text(json.dumps(data))
    expected = f"{tmp_path / REFERENCE_FILE}: images must be a finite number in [1, inf], got inf"
    for argv in (["run", "--frames", "1", "--no-display"], ["bridge", "serve", "--transport", "tcp://127.0.0.1:0"]):
        assert main([*argv, "--model", str(model)]) == 1
        assert capsys.readouterr().err.strip() == f"tlfseg {argv[0]}: error: {expected}"
