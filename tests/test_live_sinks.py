"""edge.live.sinks: the recording folder (log, video segments, plot, summary), its state after an abrupt stop,
and the status lines."""

import io
import json
import os
import signal
import subprocess
import sys

import cv2
import pytest
from live_support import small_phantom, wait_for

from edge.live.loop import LiveLoop
from edge.live.pipeline import FramePipeline
from edge.live.sinks import RATE_PROBE, RecordingSink, StatusSink, frame_rate, free_folder, read_log
from edge.live.sources import FrameReader, SyntheticCapture
from edge.measurement.measure import Calibration


def count_video_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.fixture(scope="module")
def recording(tmp_path_factory, bundled_engine):
    folder = tmp_path_factory.mktemp("rec") / "session"
    recorder = RecordingSink(folder, fps=25, segment_s=0.05)  # short segments: several in 12 frames
    out = io.StringIO()
    reader = FrameReader(SyntheticCapture(phantom=small_phantom()), keep="all")
    loop = LiveLoop(
        reader,
        FramePipeline(bundled_engine, calibration=Calibration(mm_per_px=0.1)),
        sinks=[StatusSink(0.0, out), recorder],
        max_frames=12,
    )
    session = loop.run()
    return folder, session, out.getvalue()


def test_recording_files(recording):
    folder, session, _ = recording
    names = sorted(p.name for p in folder.iterdir())
    videos = [n for n in names if n.endswith(".mp4")]
    assert names == ["frames.jsonl", *videos, "summary.json", "thickness.png"]
    assert len(videos) >= 2 and videos == [f"overlay_{i:04d}.mp4" for i in range(len(videos))]
    assert sum(count_video_frames(folder / v) for v in videos) == 12
    plot = cv2.imread(str(folder / "thickness.png"))
    assert plot is not None and plot.shape[0] > 200
    frames, events, partial = read_log(folder / "frames.jsonl")
    assert not partial and len(frames) == 12 and events[0]["event"] == "opened"
    assert [f["seq"] for f in frames] == list(range(12))  # keep="all": nothing dropped
    first = frames[0]
    keys = {"seq", "time", "t_s", "roi", "latency_ms", "good", "flags", "thickness_mm", "coverage", "echo"}
    assert keys <= set(first)
    assert first["mm_per_px"] == 0.1 and {"inference", "e2e"} <= set(first["latency_ms"])


def test_summary_is_consistent(recording):
    folder, session, _ = recording
    summary = json.loads((folder / "summary.json").read_text())
    f = summary["frames"]
    assert f["processed"] == 12 and f["seen"] == f["processed"] + f["dropped_total"] and f["in_flight"] == 0
    assert summary["latency_ms"]["inference"]["n"] == 12
    assert summary["thickness"]["unit"] == "mm"
    t = summary["thickness"]
    assert t["good_frames"] + t["flagged_frames"] == 12
    assert set(summary["files"]) == {p.name for p in folder.iterdir()}
    assert summary == json.loads(json.dumps(session.summary()))


def test_status_lines_and_events(recording):
    _, _, text = recording
    lines = text.strip().splitlines()
    assert "source opened" in lines[0]
    assert any(" fps | e2e " in line and "dropped" in line for line in lines[1:])


def test_video_plays_at_the_processed_rate():
    assert frame_rate([0.0, 0.1, 0.2, 0.3], 25.0) == pytest.approx(10.0)
    assert frame_rate([5.0], 25.0) == 25.0 and frame_rate([0.0, 100.0], 25.0) == 1.0


@pytest.mark.parametrize("measured", [65.69137398438532, 98.08657294046233, 113.11146015027325])
def test_a_measured_rate_always_opens_the_mp4_encoder(tmp_path, measured):
    """Unrounded, these rates need a time base the MPEG-4 encoder refuses (seen as a flaky recording)."""
    rate = frame_rate([i / measured for i in range(11)], 25.0)
    assert rate == pytest.approx(measured, abs=0.005)
    writer = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), rate, (64, 48))
    assert writer.isOpened()
    writer.release()


def test_the_log_names_what_makes_a_frame_unfamiliar(tmp_path, bundled_engine, phantom):
    """A frame with gain turned far up is logged with the input statistics outside the model's training range."""
    from edge.live.sources.folder import ImageFolderCapture

    images = tmp_path / "images"
    images.mkdir()
    for i, alpha in enumerate((1.0, 3.0, 1.0)):
        cv2.imwrite(str(images / f"f{i}.png"), cv2.convertScaleAbs(phantom.frame(i).image, alpha=alpha))
    recorder = RecordingSink(tmp_path / "rec", fps=25)
    loop = LiveLoop(FrameReader(ImageFolderCapture(images), keep="all"), FramePipeline(bundled_engine), [recorder])
    session = loop.run()
    frames, _, _ = read_log(tmp_path / "rec" / "frames.jsonl")
    assert [f.get("unfamiliar") for f in frames] == [None, ["bright"], None]
    assert [("unfamiliar" in f["flags"]) for f in frames] == [False, True, False] and session.processed == 3


def test_a_second_recording_never_overwrites_the_first(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "frames.jsonl").write_text("{}\n")
    assert free_folder(tmp_path / "rec") == tmp_path / "rec-2"
    (tmp_path / "empty").mkdir()
    assert free_folder(tmp_path / "empty") == tmp_path / "empty"


def test_read_log_tolerates_only_a_partial_last_line(tmp_path):
    good = b'{"seq":0}\n{"event":"lost","t_s":1,"detail":"x"}\n'
    path = tmp_path / "frames.jsonl"
    path.write_bytes(good + b'{"seq":1,"lat')
    frames, events, partial = read_log(path)
    assert frames == [{"seq": 0}] and len(events) == 1 and partial
    path.write_bytes(b'{"seq":0}\n{"se\n{"seq":2}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_log(path)


def start_demo_recording(folder):
    cmd = [sys.executable, "-m", "edge.tools.cli", "run", "--source", "demo", "--fps", "50", "--no-display"]
    cmd += ["--record", str(folder), "--status-every", "0", "--threads", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def wait_for_lines(folder, lines: int) -> bool:
    log = folder / "frames.jsonl"
    return wait_for(lambda: log.exists() and log.read_bytes().count(b"\n") >= lines, timeout_s=120)


@pytest.mark.slow
def test_sigterm_ends_a_recording_cleanly(tmp_path):
    folder = tmp_path / "rec"
    proc = start_demo_recording(folder)
    try:
        assert wait_for_lines(folder, 4)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "session:" in out  # the user ended it, as with Ctrl-C
    summary = json.loads((folder / "summary.json").read_text())
    frames, _, partial = read_log(folder / "frames.jsonl")
    assert summary["frames"]["processed"] == len(frames) and not partial
    assert summary["interrupted"] is True and summary["frames"]["in_flight"] == 0  # every frame counted
    counted = summary["frames"]["processed"] + summary["frames"]["dropped_total"]
    assert counted == summary["frames"]["seen"]
    assert (folder / "overlay_0000.mp4").exists() and count_video_frames(folder / "overlay_0000.mp4") == len(frames)


@pytest.mark.slow
def test_recording_survives_an_abrupt_kill(tmp_path):
    """SIGKILL mid-recording: the log parses (at most a partial last line), the open video segment is marked."""
    folder = tmp_path / "rec"
    proc = start_demo_recording(folder)
    try:
        assert wait_for_lines(folder, 1 + RATE_PROBE + 3)  # the first video segment is open by then
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    frames, events, partial = read_log(folder / "frames.jsonl")
    assert len(frames) >= 5 and events[0]["event"] == "opened"
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(set(seqs))
    for f in frames:  # every complete line is a whole record with its own counts
        assert f["seen"] >= f["seq"] + 1 and f["seen"] >= sum(f["dropped"].values())
    names = {p.name for p in folder.iterdir()}
    assert "summary.json" not in names and "overlay_0000.part.mp4" in names  # incomplete, and named so
    assert not any(n.endswith(".mp4") and ".part" not in n for n in names)
