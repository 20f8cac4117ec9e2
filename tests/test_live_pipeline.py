"""edge.live.pipeline and edge.core.roi_policy: the one per-frame step (ROI, model, fusion, class map, measurement,
each timed) and where each frame's ROI comes from."""

import cv2
import numpy as np
import pytest
from live_support import SMALL_ROI, small_phantom
from test_core_postprocess import argmax_native

from edge.core.labels import ABOVE, BELOW, FASCIA
from edge.core.postprocess import to_native, upsampled_class_map
from edge.core.roi import Box
from edge.core.roi_policy import FixedRoi, TrackedRoi
from edge.live.fusion import ProbabilityFusion
from edge.live.phantom import Phantom
from edge.live.pipeline import FramePipeline


def test_roi_detected_once_then_redetected_on_a_layout_change():
    small, big = small_phantom(), Phantom()
    tracker = TrackedRoi()
    roi, changed = tracker(small.frame(0).image)
    assert roi == SMALL_ROI and not changed  # the first detection is not a change
    for i in range(1, 5):
        assert tracker(small.frame(i).image) == (SMALL_ROI, False)
    roi, changed = tracker(big.frame(0).image)  # another scanner layout
    assert changed and roi == big.roi
    clock = big.frame(1).image.copy()
    clock[5:20, 560:600] = 255  # a clock ticking in the UI is not a layout change
    assert tracker(clock) == (big.roi, False)


def test_layout_change_of_the_same_size_is_caught_by_the_ui_check():
    phantom = small_phantom()
    moved = Phantom(screen=(240, 320), roi=Box(70, 20, 160, 200), thickness_px=8.0)
    tracker = TrackedRoi(recheck_every=10_000)
    tracker(phantom.frame(0).image)
    roi, changed = tracker(moved.frame(0).image)
    assert changed and roi == moved.roi


def test_shrunken_bmode_area_is_found_by_the_periodic_recheck():
    phantom = small_phantom()
    shrunk = Phantom(screen=(240, 320), roi=Box(60, 50, 160, 140), thickness_px=8.0)
    tracker = TrackedRoi(recheck_every=3)
    tracker(phantom.frame(0).image)
    changes = [tracker(shrunk.frame(i).image) for i in range(4)]
    assert changes[-1][0] == shrunk.roi and any(c for _, c in changes)


def test_fixed_roi_is_used_and_checked():
    tracker = FixedRoi(Box(0, 0, 50, 40))
    assert tracker(np.zeros((40, 60, 3), np.uint8)) == (Box(0, 0, 50, 40), False)
    with pytest.raises(ValueError, match="outside"):
        tracker(np.zeros((30, 60, 3), np.uint8))


def test_probability_fusion():
    a = np.zeros((2, 2, 3), np.float32)
    a[..., 0] = 1
    b = np.zeros_like(a)
    b[..., 1] = 1
    fuse = ProbabilityFusion(0.25)
    np.testing.assert_array_equal(fuse(a), a)
    np.testing.assert_allclose(fuse(b)[0, 0], [0.75, 0.25, 0])
    fuse.reset()
    np.testing.assert_array_equal(fuse(b), b)
    with pytest.raises(ValueError):
        ProbabilityFusion(0)


def agreement_with_argmax(segmenter, image: np.ndarray) -> float:
    seg = segmenter(image)
    return float((seg.labels == argmax_native(seg.probs, seg.roi, seg.frame_shape)).mean())


def test_native_map_agrees_with_argmax_on_phantom_frames(segmenter, phantom):
    for i in (0, 5, 11):
        assert agreement_with_argmax(segmenter, phantom.frame(i).image) >= 0.9999


@pytest.mark.realdata
def test_native_map_agrees_with_argmax_on_real_captures(segmenter, real_layouts):
    from edge.core.imagefiles import read_image

    for paths in real_layouts.values():
        for path in paths[:2]:
            assert agreement_with_argmax(segmenter, read_image(path)) >= 0.9999, path.name


@pytest.fixture(scope="module")
def segmenter(bundled_engine):
    """Stills: the B-mode area detected on every image."""
    return FramePipeline(bundled_engine, video=False)


def test_pipeline_on_a_phantom_frame(segmenter, phantom):
    frame = phantom.frame(3)
    seg = segmenter(frame.image)
    assert seg.labels.shape == frame.image.shape[:2] and seg.labels.dtype == np.uint8
    assert set(np.unique(seg.labels)) <= {ABOVE, FASCIA, BELOW}
    assert seg.roi == frame.roi  # detected automatically
    assert seg.probs.shape == segmenter.engine.output.shape[1:] and seg.probs.shape[2] == 3
    assert seg.grey.shape == (seg.roi.h, seg.roi.w) and seg.frame_shape == frame.image.shape[:2]
    assert set(seg.timings_ms) == {"roi", "preprocess", "inference", "postprocess", "measure", "total"}
    assert all(v >= 0 for v in seg.timings_ms.values())
    assert seg.timings_ms["total"] >= sum(v for k, v in seg.timings_ms.items() if k != "total") * 0.99
    assert seg.measurement.thickness_px is not None and seg.flags == seg.measurement.flags
    r = seg.roi  # outside the ROI the nearest ROI row / column is repeated
    top_row, left_column = seg.labels[r.y, r.x : r.x + r.w], seg.labels[:, r.x]
    assert (seg.labels[: r.y, r.x : r.x + r.w] == top_row[None, :]).all()
    assert (seg.labels[:, : r.x] == left_column[:, None]).all()
    np.testing.assert_array_equal(seg.labels[r.slices], seg.roi_labels)  # the whole-frame map is made from it
    np.testing.assert_array_equal(seg.labels, to_native(seg.probs, r, frame.image.shape))


def test_pipeline_same_result_for_grey_bgr_bgra(segmenter, phantom):
    image = phantom.frame(1).image
    bgr = segmenter(image).labels
    np.testing.assert_array_equal(segmenter(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)).labels, bgr)
    np.testing.assert_array_equal(segmenter(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)).labels, bgr)


def test_pipeline_with_a_fixed_roi(bundled_engine, phantom):
    image = phantom.frame(0).image
    fixed = FramePipeline(bundled_engine, Box(100, 30, 420, 440))
    assert fixed(image).roi == Box(100, 30, 420, 440)
    with pytest.raises(ValueError, match="outside the 640x480 frame"):
        FramePipeline(bundled_engine, Box(300, 0, 400, 100))(image)


def test_video_pipeline_detects_the_roi_once_and_tracks_it(bundled_engine, phantom, monkeypatch):
    """On a stream the B-mode area is detected on the first frame only; stills detect it on every image."""
    import edge.core.roi_policy as policy

    calls = []
    real = policy.detect_bmode_roi
    monkeypatch.setattr(policy, "detect_bmode_roi", lambda *a: calls.append(1) or real(*a))
    video, stills = FramePipeline(bundled_engine), FramePipeline(bundled_engine, video=False)
    for i in range(5):
        assert video(phantom.frame(i).image).roi == phantom.roi
    assert len(calls) == 1
    for i in range(3):
        stills(phantom.frame(i).image)
    assert len(calls) == 4


def test_fusion_is_applied_to_the_probabilities_before_the_class_map(bundled_engine, phantom):
    """With fusion the class map is made once, from the fused probabilities; a new ROI starts the average afresh."""
    fused = FramePipeline(bundled_engine, fuse=0.3)
    plain = FramePipeline(bundled_engine, video=False)
    first = fused(phantom.frame(0).image)
    np.testing.assert_array_equal(first.probs, plain(phantom.frame(0).image).probs)  # nothing to average yet
    second = fused(phantom.frame(5).image)
    raw = plain(phantom.frame(5).image).probs
    np.testing.assert_allclose(second.probs, 0.3 * raw + 0.7 * first.probs, atol=1e-6)
    np.testing.assert_array_equal(second.roi_labels, upsampled_class_map(second.probs, (second.roi.w, second.roi.h)))
    assert "fuse" in second.timings_ms


@pytest.mark.parametrize("shape", [(1, 1), (1, 300), (300, 1), (5, 5, 3)])
def test_a_frame_too_small_to_segment_is_refused_with_its_size(bundled_engine, shape):
    with pytest.raises(ValueError, match=f"frame {shape[1]}x{shape[0]} is too small to segment"):
        FramePipeline(bundled_engine, video=False)(np.full(shape, 90, np.uint8))


@pytest.mark.parametrize("hinted", [False, True])
def test_the_native_class_map_is_made_only_when_asked_for(bundled_engine, phantom, hinted):
    """Measuring takes the frame's native fascia (a few rows); the whole class map is made on first use, from the
    probabilities the band was chosen from (with an operator's hint, those the hint changed), and its fascia is the
    one measured."""
    from edge.measurement.candidates import OperatorPrior

    prior = OperatorPrior(hint_px=phantom.frame(2).labels[phantom.roi.slices].argmax(axis=0).mean()) if hinted else None
    seg = FramePipeline(bundled_engine, phantom.roi, prior=prior)(phantom.frame(2).image)
    assert "roi_labels" not in seg.__dict__ and "labels" not in seg.__dict__
    assert (seg.class_probs is not seg.probs) == hinted
    np.testing.assert_array_equal(seg.roi_labels, upsampled_class_map(seg.class_probs, (seg.roi.w, seg.roi.h)))
    np.testing.assert_array_equal(seg.fascia.full(), np.where(seg.roi_labels == FASCIA, 255, 0))
    assert seg.fascia.mask.shape[0] < seg.roi.h / 4  # the band's rows
    gliding = FramePipeline(bundled_engine, phantom.roi, gliding=True)(phantom.frame(2).image)
    assert "roi_labels" in gliding.__dict__  # gliding follows the layers of the whole map
