"""edge.loop: ROI tracking across layout changes, temporal fusion, and the frame loop's accounting under a
slow engine (every frame processed or counted dropped with a reason)."""

import cv2
import numpy as np
import pytest
from live_support import SMALL_ROI, ScriptedDevice, SleepySegmenter, small_phantom, wait_for

from edge.labels import FASCIA
from edge.loop import LiveLoop, ProbabilityFusion, RoiTracker, Sink
from edge.measure import Calibration
from edge.phantom import Phantom
from edge.roi import Box
from edge.segmenter import Segmenter
from edge.sources import FrameReader, ImageFolderCapture, SyntheticProbe


class Collect(Sink):
    def __init__(self):
        self.results, self.events, self.closed = [], [], None

    def write(self, result, picture, session):
        self.results.append(result)

    def event(self, event):
        self.events.append(event)

    def close(self, session):
        self.closed = session


def test_roi_detected_once_then_redetected_on_a_layout_change():
    small, big = small_phantom(), Phantom()
    tracker = RoiTracker()
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
    tracker = RoiTracker(recheck_every=10_000)
    tracker(phantom.frame(0).image)
    roi, changed = tracker(moved.frame(0).image)
    assert changed and roi == moved.roi


def test_shrunken_bmode_area_is_found_by_the_periodic_recheck():
    phantom = small_phantom()
    shrunk = Phantom(screen=(240, 320), roi=Box(60, 50, 160, 140), thickness_px=8.0)
    tracker = RoiTracker(recheck_every=3)
    tracker(phantom.frame(0).image)
    changes = [tracker(shrunk.frame(i).image) for i in range(4)]
    assert changes[-1][0] == shrunk.roi and any(c for _, c in changes)


def test_fixed_roi_is_used_and_checked():
    tracker = RoiTracker(Box(0, 0, 50, 40))
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


def test_slow_engine_drops_are_counted_none_silently(bundled_engine):
    """The engine takes longer than a frame interval: frames are dropped at the source, all counted."""
    segmenter = SleepySegmenter(bundled_engine, delay_s=0.15)
    reader = FrameReader(SyntheticProbe(fps=25, phantom=small_phantom()))
    sink = Collect()
    session = LiveLoop(reader, segmenter, sinks=[sink], max_frames=5).run()
    assert session.processed == len(sink.results) == 5 and sink.closed is session
    assert session.seen == session.processed + session.dropped_total
    assert session.dropped["busy"] > 0 and set(session.dropped) <= {"busy", "stopped"}
    seqs = [r.frame.seq for r in sink.results]
    assert len(set(range(session.seen)) - set(seqs)) == session.dropped_total  # each gap is a counted drop
    for r in sink.results:
        t = r.timings_ms
        assert {"queue", "preprocess", "inference", "postprocess", "measure", "total", "e2e"} <= set(t)
        assert t["e2e"] >= t["total"] >= t["inference"] > 0
    stats = session.latency.summary()
    assert stats["inference"]["n"] == 5 and stats["sinks"]["n"] == 5


def test_a_stalled_source_is_reported_and_the_loop_goes_on(bundled_engine):
    class Pausing(ScriptedDevice):
        def read(self):
            if self.delivered == 2:
                wait_for(lambda: False, timeout_s=0.8)  # no signal for a moment
            return super().read()

    sink = Collect()
    reader = FrameReader(Pausing(frames_before_loss=10**6, failed_opens=0))
    session = LiveLoop(reader, Segmenter(bundled_engine), sinks=[sink], max_frames=4, stall_s=0.3).run()
    kinds = [e["kind"] for e in sink.events]
    assert kinds.index("stalled") < kinds.index("resumed") and session.processed == 4


def test_every_frame_of_a_folder_with_fixed_roi_and_a_bad_frame(tmp_path, bundled_engine):
    folder = tmp_path / "imgs"
    phantom = small_phantom()
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"p{i}.png"), phantom.frame(i).image)
    cv2.imwrite(str(folder / "p2b.png"), np.zeros((100, 100, 3), np.uint8))  # smaller than the fixed ROI
    sink = Collect()
    loop = LiveLoop(
        FrameReader(ImageFolderCapture(folder), keep="all"),
        Segmenter(bundled_engine),
        roi=SMALL_ROI,
        calibration=Calibration(depth_mm=36.0),
        sinks=[sink],
    )
    session = loop.run()
    assert session.seen == 5 and session.processed == 4 and session.dropped == {"error": 1}
    assert [e["kind"] for e in sink.events if e["kind"] == "error"] == ["error"]
    assert all(r.segmentation.roi == SMALL_ROI for r in sink.results)
    assert all(r.measurement.mm_per_px == pytest.approx(36.0 / SMALL_ROI.h) for r in sink.results)
    assert session.unit == "mm" and len(session.series) == 4
    summary = session.summary()
    assert summary["frames"] == {"seen": 5, "processed": 4, "dropped": {"error": 1}, "dropped_total": 1, "in_flight": 0}


def test_fusion_in_the_loop_changes_labels_consistently(bundled_engine):
    sink = Collect()
    reader = FrameReader(SyntheticProbe(phantom=small_phantom()), keep="all")
    LiveLoop(reader, Segmenter(bundled_engine), fuse=0.3, sinks=[sink], max_frames=3).run()
    assert len(sink.results) == 3
    for r in sink.results:
        assert "fuse" in r.timings_ms
        seg = r.segmentation
        roi_labels = seg.labels[seg.roi.slices]
        up = cv2.resize(seg.probs, (seg.roi.w, seg.roi.h), interpolation=cv2.INTER_LINEAR)
        differ = (roi_labels == FASCIA) != (np.argmax(up, -1) == FASCIA)  # labels come from the fused probs ...
        top2 = np.sort(up, axis=-1)[..., 1:]
        assert np.all(top2[differ, 1] - top2[differ, 0] < 3 / 16384)  # ... up to near ties (fixed-point upsampling)
