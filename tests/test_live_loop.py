"""edge.live.loop: the frame loop's accounting under a slow engine (every frame processed or counted dropped with a
reason), source stalls, fixed ROIs and bad frames, fusion in the loop."""

import cv2
import numpy as np
import pytest
from live_support import SMALL_ROI, ScriptedDevice, SleepyPipeline, small_phantom, wait_for

from edge.core.frame import FrameRejected
from edge.core.labels import FASCIA
from edge.live.loop import LiveLoop
from edge.live.pipeline import FramePipeline
from edge.live.sinks import Sink
from edge.live.sources import FrameReader, ImageFolderCapture, SyntheticCapture
from edge.measurement.measure import Calibration


class Collect(Sink):
    def __init__(self):
        self.results, self.events, self.closed = [], [], None

    def write(self, frame, result, picture, session):
        self.results.append((frame, result))

    def event(self, event):
        self.events.append(event)

    def close(self, session):
        self.closed = session


def test_slow_engine_drops_are_counted_none_silently(bundled_engine):
    """The engine takes longer than a frame interval: frames are dropped at the source, all counted."""
    pipeline = SleepyPipeline(bundled_engine, delay_s=0.15)
    reader = FrameReader(SyntheticCapture(fps=25, phantom=small_phantom()))
    sink = Collect()
    session = LiveLoop(reader, pipeline, sinks=[sink], max_frames=5).run()
    assert session.processed == len(sink.results) == 5 and sink.closed is session
    assert session.seen == session.processed + session.dropped_total
    assert session.dropped["busy"] > 0 and set(session.dropped) <= {"busy", "stopped"}
    seqs = [f.seq for f, _ in sink.results]
    assert len(set(range(session.seen)) - set(seqs)) == session.dropped_total  # each gap is a counted drop
    for _, r in sink.results:
        t = r.timings_ms
        assert {"queue", "roi", "preprocess", "inference", "postprocess", "measure", "total", "e2e"} <= set(t)
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
    session = LiveLoop(reader, FramePipeline(bundled_engine), sinks=[sink], max_frames=4, stall_s=0.3).run()
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
        FramePipeline(bundled_engine, SMALL_ROI, calibration=Calibration(depth_mm=36.0)),
        sinks=[sink],
    )
    session = loop.run()
    assert session.seen == 5 and session.processed == 4 and session.dropped == {"error": 1}
    assert [e["kind"] for e in sink.events if e["kind"] == "error"] == ["error"]
    assert all(r.roi == SMALL_ROI for _, r in sink.results)
    assert all(r.measurement.mm_per_px == pytest.approx(36.0 / SMALL_ROI.h) for _, r in sink.results)
    assert session.unit == "mm" and len(session.series) == 4
    summary = session.summary()
    assert summary["frames"] == {"seen": 5, "processed": 4, "dropped": {"error": 1}, "dropped_total": 1, "in_flight": 0}


def test_fusion_in_the_loop_changes_labels_consistently(bundled_engine):
    sink = Collect()
    reader = FrameReader(SyntheticCapture(phantom=small_phantom()), keep="all")
    LiveLoop(reader, FramePipeline(bundled_engine, fuse=0.3), sinks=[sink], max_frames=3).run()
    assert len(sink.results) == 3
    for _, seg in sink.results:
        assert "fuse" in seg.timings_ms
        roi_labels = seg.labels[seg.roi.slices]
        up = cv2.resize(seg.probs, (seg.roi.w, seg.roi.h), interpolation=cv2.INTER_LINEAR)
        differ = (roi_labels == FASCIA) != (np.argmax(up, -1) == FASCIA)  # labels come from the fused probs ...
        top2 = np.sort(up, axis=-1)[..., 1:]
        assert np.all(top2[differ, 1] - top2[differ, 0] < 3 / 16384)  # ... up to near ties (fixed-point upsampling)


def test_failing_frames_between_good_ones_are_reported_sparingly_and_all_counted(bundled_engine):
    """Every other frame fails: each failure is counted, but only the first 3 (and one in 100) become events."""

    class Flaky(FramePipeline):
        def __call__(self, frame, mm_per_px=None):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls % 2:
                raise FrameRejected("a bad frame")
            return super().__call__(frame, mm_per_px)

    sink = Collect()
    reader = FrameReader(SyntheticCapture(phantom=small_phantom()), keep="all")
    session = LiveLoop(reader, Flaky(bundled_engine), sinks=[sink], max_frames=150).run()
    errors = [e for e in sink.events if e["kind"] == "error"]
    assert session.processed == 150 and session.dropped["error"] >= 150 and session.failed is None
    assert len(errors) == 4 and "(100 so far)" in errors[-1]["detail"]  # 1, 2, 3, then the 100th


def test_a_bug_in_the_pipeline_ends_the_run_instead_of_counting_as_a_bad_frame(bundled_engine):
    """Only `FrameRejected` is the frame's fault: a numpy shape error (a bug) is raised, not dropped as `error`."""

    class Buggy(FramePipeline):
        def __call__(self, frame, mm_per_px=None):
            raise ValueError("operands could not be broadcast together")

    sink = Collect()
    reader = FrameReader(SyntheticCapture(phantom=small_phantom()), keep="all")
    loop = LiveLoop(reader, Buggy(bundled_engine), sinks=[sink], max_frames=5)
    with pytest.raises(ValueError, match="broadcast"):
        loop.run()
    assert loop.session.dropped.get("error", 0) == 0 and sink.closed is not None  # no drop counted; sinks closed


def test_a_folder_of_unreadable_images_is_an_error(tmp_path, capsys):
    from edge.tools.cli import main

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.png").write_bytes(b"not an image")
    assert main(["run", "--source", str(folder), "--every-frame", "--no-display", "--status-every", "0"]) == 1
    assert "none of the 3 frames" in capsys.readouterr().err
