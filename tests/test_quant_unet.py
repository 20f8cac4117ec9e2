"""quantization.unet: the paper's U-Net at every width, built only from layers QAT and the Edge TPU accept."""

import numpy as np
import pytest

pytest.importorskip("tf_keras", reason="the training pipeline needs the 'train' extra")

from quantization.tfenv import keras  # noqa: E402  (selects legacy Keras first)
from quantization.unet import build_unet  # noqa: E402

ALLOWED = {
    "InputLayer",
    "Conv2D",
    "BatchNormalization",
    "ReLU",
    "MaxPooling2D",
    "UpSampling2D",
    "Concatenate",
    "Softmax",
}


@pytest.fixture(scope="module")
def models():
    return {w: build_unet(w, (256, 256)) for w in (64, 32, 16, 8)}


@pytest.mark.parametrize("width", [64, 32, 16, 8])
def test_shapes_and_layers(models, width):
    model = models[width]
    assert model.input_shape == (None, 256, 256, 1)
    assert model.output_shape == (None, 256, 256, 3)
    assert {type(layer).__name__ for layer in model.layers} <= ALLOWED
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 4
    assert model.get_layer("enc0_conv1").filters == width
    assert model.get_layer("bottleneck_conv1").filters == width * 16
    for layer in model.layers:
        if isinstance(layer, keras.layers.Concatenate):
            assert not hasattr(layer, "activation")  # no fused activation for the Edge TPU


def test_width_scales_parameters_quadratically(models):
    counts = {w: m.count_params() for w, m in models.items()}
    for wide, narrow in ((64, 32), (32, 16), (16, 8)):
        assert 3.8 < counts[wide] / counts[narrow] < 4.1


def test_forward_gives_probabilities():
    model = build_unet(4, (64, 96))
    x = np.random.default_rng(0).random((2, 64, 96, 1), dtype=np.float32)
    y = model(x, training=False).numpy()
    assert y.shape == (2, 64, 96, 3)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)


def test_input_size_must_survive_four_poolings():
    with pytest.raises(ValueError, match="divisible by 16"):
        build_unet(8, (250, 256))


def test_strided_stem_predicts_at_half_resolution():
    model = build_unet(4, (64, 32), stem=2)
    assert model.output_shape == (None, 32, 16, 3)
    with pytest.raises(ValueError, match="divisible by 32"):
        build_unet(4, (48, 32), stem=2)


def test_stride_4_stem_sees_every_input_pixel_once():
    """The 4x4 stride-4 stem tiles the input: a quarter of the resolution, no pixel skipped or seen twice."""
    model = build_unet(4, (128, 64), stem=4)
    assert model.output_shape == (None, 32, 16, 3)
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size == (4, 4) and stem.strides == (4, 4)
    with pytest.raises(ValueError, match="divisible by 64"):
        build_unet(4, (96, 64), stem=4)


def test_soft_targets_are_class_fractions_of_labelled_pixels():
    """At stride 2 a target pixel holds the class mix of its 2x2 block; IGNORE only lowers the weight."""
    from quantization.train import soft_targets

    y = np.array([[0, 1, 2, 2], [0, 1, 255, 2]], np.uint8)
    x = np.zeros((2, 4, 1), np.float32)
    _, soft, weight = (np.asarray(t) for t in soft_targets(2)(x, y))
    np.testing.assert_allclose(soft[0, 0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(soft[0, 1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(weight[0], [1.0, 0.75])
    _, onehot, weight1 = (np.asarray(t) for t in soft_targets(1)(x, y))
    np.testing.assert_allclose(onehot[1, 2], [0, 0, 0])  # IGNORE: no target, no weight
    assert weight1[1, 2] == 0 and weight1[0, 0] == 1


def test_warp_moves_image_and_labels_together_and_invents_no_label():
    """The affine warp resamples both alike; pixels from outside the image are unlabelled, never a class."""
    from edge.core.labels import FASCIA, IGNORE
    from quantization.augment import WARP, affine

    y = np.zeros((64, 48), np.uint8)
    y[20:28] = FASCIA
    y[28:] = 2
    x = (y == FASCIA).astype(np.float32)[..., None]
    moved = 0
    for seed in range(5):
        keras.utils.set_random_seed(seed)
        xw, yw = (np.asarray(t) for t in affine(*WARP)(x, y))
        assert set(np.unique(yw)) <= {0, FASCIA, 2, IGNORE}
        assert np.median(xw[yw == FASCIA]) > 0.9 and np.median(xw[(yw == 0) | (yw == 2)]) < 0.1
        assert np.all(xw[yw == IGNORE] < 0.5)
        moved += int(np.count_nonzero(yw != y))
    assert moved > 0


def test_rotate_only_turns_the_band_and_keeps_its_size():
    """`--rotate D`: a rotation about the centre within +-D degrees, no scale or shift: the band keeps its centre
    and its width across it; the slope it gets stays within tan(D)."""
    from edge.core.labels import FASCIA
    from quantization.augment import affine
    from quantization.config import TrainConfig

    y = np.zeros((96, 96), np.uint8)
    y[44:52] = FASCIA
    y[52:] = 2
    x = (y == FASCIA).astype(np.float32)[..., None]
    for seed in range(4):
        keras.utils.set_random_seed(seed)
        xw, yw = (np.asarray(t) for t in affine(10.0, 0.0, 0.0)(x, y))
        rows, cols = np.nonzero(yw[:, 24:72] == FASCIA)
        slope = np.polyfit(cols, rows, 1)[0]
        assert abs(slope) <= np.tan(np.radians(10)) + 0.02
        assert abs(rows.mean() - 47.5) < 1.0  # turned about the centre, not moved
        width = np.count_nonzero(yw[:, 48] == FASCIA) * np.cos(np.arctan(slope))
        assert abs(width - 8) <= 1.0  # not scaled
    with pytest.raises(ValueError, match="give one of them"):
        TrainConfig(warp=True, rotate=5.0)


def test_dice_term_punishes_a_missed_band_and_ignores_unlabelled_pixels():
    from quantization.train import segmentation_loss

    targets = np.zeros((1, 8, 4, 3), np.float32)
    targets[0, :3, :, 0], targets[0, 3:5, :, 1], targets[0, 5:7, :, 2] = 1, 1, 1  # row 7 unlabelled
    perfect = targets.copy()
    perfect[0, 7] = [0, 1, 0]  # fascia predicted where nothing is labelled
    missed = perfect.copy()
    missed[0, 3:5] = [1, 0, 0]
    soft = np.clip(perfect, 0.01, 0.98)
    plain, with_dice = segmentation_loss(0.0), segmentation_loss(1.0)
    assert float(np.mean(with_dice(targets, soft))) == pytest.approx(float(plain(targets, soft)), abs=0.05)
    gap = float(np.mean(with_dice(targets, np.clip(missed, 0.01, 0.98)))) - float(
        plain(targets, np.clip(missed, 0.01, 0.98))
    )
    assert gap > 0.8  # the band is missed entirely: Dice ~0.1 (smoothed over 8 band pixels), the term adds ~0.9


def test_distillation_blends_the_teachers_probabilities_into_the_targets(tmp_path):
    import json

    import tensorflow as tf

    from quantization.distill import distilled, load_teacher

    teacher = build_unet(4, (64, 32), stem=2)
    x = np.random.default_rng(0).random((2, 64, 32, 1)).astype(np.float32)
    target = np.zeros((2, 32, 16, 3), np.float32)
    target[..., 1] = 1
    weight = np.ones((2, 32, 16), np.float32)
    ds = distilled(tf.data.Dataset.from_tensors((x, target, weight)), teacher, 0.25)
    _, blended, w = next(iter(ds))
    np.testing.assert_allclose(blended, 0.75 * target + 0.25 * teacher(x).numpy(), atol=1e-6)
    np.testing.assert_array_equal(w, weight)
    with pytest.raises(ValueError, match="share"):
        distilled(ds, teacher, 0.0)

    run, other = tmp_path / "run", tmp_path / "teacher"
    for d, train in ((run, ["a", "b"]), (other, ["a", "c"])):
        d.mkdir()
        (d / "split.json").write_text(json.dumps({"train": train, "val": [], "test": []}))
    teacher.save(str(other / "float_model.h5"))
    with pytest.raises(ValueError, match="another split"):
        load_teacher(other, run, teacher.output_shape)
    (other / "split.json").write_text((run / "split.json").read_text())
    assert load_teacher(other, run, teacher.output_shape).output_shape == teacher.output_shape
    with pytest.raises(ValueError, match="predicts"):
        load_teacher(other, run, (None, 64, 32, 3))
    with pytest.raises(ValueError, match="predicts"):
        load_teacher(other, run, (None, 16, 16, 3))
    with pytest.raises(FileNotFoundError, match="no trained float model"):
        load_teacher(tmp_path / "none", run, teacher.output_shape)


def test_a_finer_teacher_is_averaged_onto_the_students_grid():
    import tensorflow as tf

    from quantization.distill import distilled

    teacher = build_unet(4, (64, 32), stem=2)  # predicts 32x16; the stride-4 student 16x8
    x = np.random.default_rng(1).random((2, 64, 32, 1)).astype(np.float32)
    target = np.zeros((2, 16, 8, 3), np.float32)
    target[..., 0] = 1
    ds = distilled(tf.data.Dataset.from_tensors((x, target, np.ones((2, 16, 8), np.float32))), teacher, 1.0)
    _, blended, _ = next(iter(ds))
    cells = teacher(x).numpy().reshape(2, 16, 2, 8, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(blended, cells, atol=1e-6)
    np.testing.assert_allclose(blended.numpy().sum(-1), 1, atol=1e-5)  # still class fractions


def test_depth_crop_moves_the_band_without_cutting_it_or_filling_rows():
    """`--depth-crop S`: whole rows cut above and below the band (never into it), resized back: the band moves and
    scales, every row is real tissue (no black filler), and labels stay 0 / 1 / 2 in order down each column."""
    from edge.core.labels import FASCIA
    from quantization.augment import depth_crop
    from quantization.config import TrainConfig

    y = np.zeros((96, 48), np.uint8)
    y[40:48] = FASCIA
    y[48:] = 2
    x = (0.2 + 0.6 * np.arange(96, dtype=np.float32) / 95)[:, None, None] * np.ones((96, 48, 1), np.float32)
    tops = set()
    for seed in range(12):
        keras.utils.set_random_seed(seed)
        xc, yc = (np.asarray(t) for t in depth_crop(0.3)(x, y))
        rows = np.flatnonzero((yc == FASCIA).any(axis=1))
        assert rows.size >= 8 and np.all(np.diff(rows) == 1)  # the whole band, in one piece
        assert np.all(np.diff(yc.astype(int), axis=0) >= 0)  # above -> fascia -> below in every column
        assert xc.min() >= 0.2 - 1e-4  # no filler: every pixel comes from the image
        tops.add(int(rows[0]))
    assert len(tops) > 2 and min(tops) < 40  # the band appears at other depths, and nearer the top
    with pytest.raises(ValueError, match="depth-crop"):
        TrainConfig(depth_crop=0.6)


def test_tissue_above_pushes_the_band_deeper_with_real_tissue():
    """`--tissue-above S`: rows of the tissue under the band put on top (labelled tissue above), the image cut back
    at the bottom: the band deeper, whole and as thick as it was, the order above -> fascia -> below kept."""
    from edge.core.labels import FASCIA, IGNORE
    from quantization.augment import tissue_above
    from quantization.config import TrainConfig

    y = np.zeros((96, 48), np.uint8)
    y[6:12] = FASCIA
    y[12:] = 2
    y[:, :4] = IGNORE  # an unlabelled margin stays unlabelled
    x = np.random.default_rng(0).uniform(0.2, 0.8, (96, 48, 1)).astype(np.float32)
    tops = set()
    for seed in range(12):
        keras.utils.set_random_seed(seed)
        xa, ya = (np.asarray(t) for t in tissue_above(0.4)(x, y))
        rows = np.flatnonzero((ya == FASCIA).any(axis=1))
        assert rows.size == 6 and np.all(np.diff(rows) == 1)  # the whole band, as thick as before
        pushed = rows[0] - 6
        assert 0 <= pushed <= round(0.4 * 96)
        np.testing.assert_array_equal(xa[pushed:], x[: 96 - pushed])  # the image itself, moved down
        np.testing.assert_array_equal(xa[:pushed], x[12 : 12 + pushed][::-1])  # tissue from under the band
        assert np.all(ya[:pushed, 4:] == 0) and np.all(ya[:, :4] == IGNORE)
        tops.add(int(rows[0]))
    assert len(tops) > 3 and max(tops) > 20  # deeper, by varying amounts; some images left as they were
    assert 6 in tops
    with pytest.raises(ValueError, match="tissue-above"):
        TrainConfig(tissue_above=0.8)


def test_stretch_above_pushes_the_band_deeper_with_the_rows_above_it():
    """`--stretch-above S`: the rows above the band resampled taller (labelled as they were), the band and what lies
    under it moved down unchanged, the image cut back at the bottom: no seam, no borrowed structure."""
    from edge.core.labels import FASCIA, IGNORE
    from quantization.augment import stretch_above
    from quantization.config import TrainConfig

    y = np.zeros((96, 48), np.uint8)
    y[10:16] = FASCIA
    y[16:] = 2
    y[:, :4] = IGNORE
    x = np.random.default_rng(0).uniform(0.2, 0.8, (96, 48, 1)).astype(np.float32)
    x[:10] = 0.3  # the tissue above: stretching it invents no brighter rows
    tops = set()
    for seed in range(12):
        keras.utils.set_random_seed(seed)
        xs, ys = (np.asarray(t) for t in stretch_above(0.4)(x, y))
        rows = np.flatnonzero((ys == FASCIA).any(axis=1))
        assert rows.size == 6 and np.all(np.diff(rows) == 1)  # the whole band, as thick as before
        pushed = rows[0] - 10
        assert 0 <= pushed <= round(0.4 * 96)
        np.testing.assert_array_equal(xs[rows[0] :], x[10 : 96 - pushed])  # the band and below, moved down
        np.testing.assert_allclose(xs[: rows[0]], 0.3, atol=1e-6)  # the stretched rows: the tissue above only
        assert np.all(ys[: rows[0], 4:] == 0) and np.all(ys[:, :4] == IGNORE)
        tops.add(int(rows[0]))
    assert len(tops) > 3 and max(tops) > 25 and 10 in tops  # deeper by varying amounts; some left as they were
    y[:10] = FASCIA  # a band from the very top row: nothing above it to stretch, the image as it was
    xs, ys = (np.asarray(t) for t in stretch_above(0.4)(x, y))
    np.testing.assert_array_equal(xs, x)
    with pytest.raises(ValueError, match="stretch-above"):
        TrainConfig(stretch_above=0.8)
    with pytest.raises(ValueError, match="names no run"):
        TrainConfig(teacher=" , ")


def test_an_ensemble_of_teachers_is_distilled_as_the_mean_of_their_probabilities(tmp_path):
    """`--teacher A,B`: the targets blend in the mean of both teachers' probabilities; a hold-out root as teacher
    stands for its own run of the same direction."""
    import tensorflow as tf

    from quantization.distill import distilled
    from quantization.holdouts import direction_teachers

    keras.utils.set_random_seed(3)
    teachers = [build_unet(4, (64, 32), stem=2), build_unet(4, (64, 32), stem=1)]  # a finer one is pooled
    x = np.random.default_rng(2).random((2, 64, 32, 1)).astype(np.float32)
    target = np.zeros((2, 32, 16, 3), np.float32)
    target[..., 2] = 1
    ds = distilled(tf.data.Dataset.from_tensors((x, target, np.ones((2, 32, 16), np.float32))), teachers, 0.5)
    _, blended, _ = next(iter(ds))
    fine = teachers[1](x).numpy().reshape(2, 32, 2, 16, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(blended, 0.5 * target + 0.25 * (teachers[0](x).numpy() + fine), atol=1e-6)

    (tmp_path / "root" / "512x512-seed1").mkdir(parents=True)
    plain = tmp_path / "plain"
    given = f"{tmp_path / 'root'},{plain}"
    assert direction_teachers(given, "512x512", 1) == f"{tmp_path / 'root' / '512x512-seed1'},{plain}"
    assert direction_teachers(None, "512x512", 1) is None
    with pytest.raises(ValueError, match="has no run 660x556-seed1"):  # a hold-out root without that direction
        direction_teachers(given, "660x556", 1)


def test_a_given_split_is_kept_to_the_samples_there_are(tmp_path):
    """`--split FILE`: the names of a split.json or of a model.json's split, less those not in the data (the label
    check's), so a retrained model is scored on the images the one it replaces never trained on either."""
    import json

    from quantization.run_data import given_split

    names = {"a": ["x1", "x2", "gone"], "b": ["y1"], "c": ["z2", "z1"]}
    split = {"train": names["a"], "val": names["b"], "test": names["c"]}
    (tmp_path / "split.json").write_text(json.dumps(split))
    (tmp_path / "model.json").write_text(json.dumps({"model": "m.tflite", "split": {"seed": 0, "names": split}}))
    want = {"train": ["x1", "x2"], "val": ["y1"], "test": ["z1", "z2"]}
    kept = {"x1", "x2", "y1", "z1", "z2"}
    assert given_split(tmp_path / "split.json", kept) == want == given_split(tmp_path / "model.json", kept)
    (tmp_path / "bad.json").write_text(json.dumps({"train": []}))
    with pytest.raises(ValueError, match="no train / val / test split"):
        given_split(tmp_path / "bad.json", kept)
    with pytest.raises(ValueError, match="none of its train"):
        given_split(tmp_path / "split.json", {"z1"})
    (tmp_path / "twice.json").write_text(json.dumps({**split, "test": ["x1"]}))
    with pytest.raises(ValueError, match="in two parts"):
        given_split(tmp_path / "twice.json", kept)


def test_a_teacher_is_distilled_after_the_depth_levers_and_per_image():
    """The depth levers resize to a computed size and lose the static shape; `make_dataset` restores it, so a teacher
    can be distilled with them (`--teacher` with `--stretch-above` crashed). A per-image share of 0 keeps an image's
    labels alone as its targets (`tlfseg adapt`: your frames), 1 blends the teacher in (the replayed images)."""
    from quantization.augment import depth_crop, stretch_above, tissue_above
    from quantization.distill import distilled
    from quantization.train import make_dataset

    teacher = build_unet(4, (64, 32), stem=2)
    x = np.random.default_rng(2).random((4, 64, 32, 1)).astype(np.float32)
    y = np.full((4, 64, 32), 2, np.uint8)
    y[:, :20], y[:, 20:26] = 0, 1
    levers = [tissue_above(0.3), stretch_above(0.3), depth_crop(0.3)]
    ds = make_dataset(x, y, 4, True, 0, 2, levers)
    assert ds.element_spec[0].shape[1:] == (64, 32, 1)
    assert next(iter(distilled(ds, teacher, 0.5)))[1].shape == (4, 32, 16, 3)

    plain = next(iter(make_dataset(x, y, 4, False, 0, 2)))[1].numpy()
    shares = np.array([0, 1, 0, 1], np.float32)
    _, blended, _ = next(iter(distilled(make_dataset(x, y, 4, False, 0, 2, shares=shares), teacher, 0.5)))
    expected = plain + shares[:, None, None, None] * 0.5 * (teacher(x).numpy() - plain)
    np.testing.assert_allclose(blended, expected, atol=1e-6)
    np.testing.assert_allclose(blended[0], plain[0], atol=1e-6)
