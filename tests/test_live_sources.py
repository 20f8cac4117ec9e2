"""edge.live.sources: the OpenCV capture on a real video file, image folders, the demo stream, the reader thread's
drop policy, and reconnecting when a source vanishes."""

import shutil
import sys

import numpy as np
import pytest
from live_support import ScriptedDevice, small_phantom, wait_for, write_folder, write_video

from edge.live.sources import (
    FrameReader,
    ImageFolderCapture,
    OpenCVCapture,
    PiCameraCapture,
    SourceError,
    SourceSettings,
    SyntheticCapture,
    open_capture,
)


def drain(reader: FrameReader, limit: int = 1000, timeout_s: float = 60.0):
    """Take frames until the source is finished (bounded, so a bug fails instead of hanging)."""
    frames = []
    assert wait_for(lambda: (frames.append(f) if (f := reader.get(0.05)) else None) or reader.finished, timeout_s)
    while (f := reader.get(0.0)) is not None and len(frames) < limit:
        frames.append(f)
    return frames


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_opencv_capture_on_a_video_file(tmp_path, suffix):
    path = tmp_path / f"probe{suffix}"
    written = write_video(path, frames=12)
    capture = OpenCVCapture(path, SourceSettings(fourcc="YUYV", width=640, height=480, fps=30))
    assert not capture.live and capture.finite  # a file: paced by the reader, ends
    reader = FrameReader(capture, keep="all").start()
    frames = drain(reader)
    reader.stop()
    assert [f.seq for f in frames] == list(range(12))
    assert all(b.t_capture >= a.t_capture for a, b in zip(frames, frames[1:]))
    assert all(f.source == str(path) for f in frames)
    for got, want in zip(frames, written):
        assert got.image.shape == want.shape and got.image.dtype == np.uint8
        assert np.abs(got.image.astype(int) - want).mean() < 12  # lossy codec, same picture
    assert capture.negotiated["backend"] == "FFMPEG" and capture.negotiated["width"] == 320
    kinds = [e.kind for e in reader.take_events()]
    assert kinds == ["opened", "end"]
    assert reader.seen == 12 and sum(reader.dropped.values()) == 0


def test_video_file_reopens_where_it_left_off(tmp_path):
    path = tmp_path / "probe.mp4"
    write_video(path, frames=10)
    capture = OpenCVCapture(path)
    capture.open()
    first = [capture.read() for _ in range(4)]
    capture.close()
    capture.open()  # what the reader does after a loss
    rest = []
    with pytest.raises(SourceError, match="end of"):
        while True:
            rest.append(capture.read())
    assert len(first) + len(rest) == 10
    assert np.abs(rest[0].astype(int) - first[-1]).mean() > 0  # the next frame, not a repeat of the 4th


def test_capture_returning_false_is_treated_as_unplugged_and_reopened(tmp_path):
    """The OpenCV capture in device mode: a read that returns False is a lost device, reopened with back-off.

    A video file stands in for the device (its end is where the device "unplugs"); everything else is the
    device path: V4L2 settings applied, no seeking, reopen, frames go on."""
    path = tmp_path / "probe.avi"
    write_video(path, frames=4)
    capture = OpenCVCapture(path, SourceSettings(fourcc="YUYV", width=320, height=240, fps=30))
    capture.device = capture.live = True  # device semantics; the file backend still reads it
    capture.finite = False
    reader = FrameReader(capture, backoff_s=(0.01, 0.02))
    assert reader.give_up_s is None
    reader.start()
    frames = []
    assert wait_for(lambda: ((f := reader.get(0.05)) is not None and frames.append(f)) or reader.reopens >= 2)
    reader.stop()
    events = reader.take_events()
    lost = [e for e in events if e.kind == "lost"]
    assert lost and "delivered no frame" in lost[0].detail
    assert [e.kind for e in events].count("reopened") >= 2
    seen, dropped = reader.counts()
    assert seen >= 8 and seen == len(frames) + sum(dropped.values())


def test_missing_device_and_file_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match=r"/dev/video63.*v4l2-ctl"):
        OpenCVCapture("/dev/video63").open()
    with pytest.raises(SourceError, match="not found"):
        OpenCVCapture(tmp_path / "none.mp4").open()
    with pytest.raises(SourceError, match="not 'demo'"):
        open_capture(str(tmp_path / "nothing-here"))


def test_open_capture_picks_the_source_kind(tmp_path):
    write_folder(tmp_path / "imgs", 2)
    write_video(tmp_path / "v.avi", 2)
    assert isinstance(open_capture("demo"), SyntheticCapture)
    device = open_capture("2", SourceSettings(fourcc="YUYV"))
    assert isinstance(device, OpenCVCapture) and device.live and device.name == "/dev/video2"
    assert isinstance(open_capture("/dev/video0"), OpenCVCapture)
    assert isinstance(open_capture(str(tmp_path / "imgs")), ImageFolderCapture)
    video = open_capture(str(tmp_path / "v.avi"))
    assert isinstance(video, OpenCVCapture) and not video.live
    assert isinstance(open_capture("picamera"), PiCameraCapture)
    with pytest.raises(ValueError, match="4-character"):
        SourceSettings(fourcc="MJPEG")


def test_picamera_is_imported_only_when_used():
    import edge.live.sources  # noqa: F401

    assert "picamera2" not in sys.modules
    if shutil.which("libcamera-hello") is None:
        with pytest.raises(SourceError, match=r"python3-picamera2.*--system-site-packages"):
            PiCameraCapture().open()


def test_folder_plays_in_name_order_and_counts_unreadable_files(tmp_path):
    folder = tmp_path / "imgs"
    write_folder(folder, 4)
    (folder / "f001b.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    reader = FrameReader(ImageFolderCapture(folder), keep="all").start()
    frames = drain(reader)
    reader.stop()
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 10, 20, 30]
    assert reader.seen == 5 and reader.dropped == {"unreadable": 1}
    assert [f.seq for f in frames] == [0, 1, 3, 4]  # the gap is the counted bad file


def take(reader: FrameReader, timeout_s: float = 30.0):
    frames = []
    assert wait_for(lambda: (f := reader.get(0.05)) is not None and not frames.append(f), timeout_s)
    return frames[0]


def test_latest_frame_policy_drops_and_counts_when_the_consumer_is_slow():
    reader = FrameReader(SyntheticCapture(fps=50, phantom=small_phantom())).start()
    taken = []
    for _ in range(5):
        taken.append(take(reader))
        assert wait_for(lambda: reader.seen >= taken[-1].seq + 5)  # four newer frames arrive while busy
    reader.stop()
    seen, dropped = reader.counts()
    assert seen == len(taken) + sum(dropped.values())  # none silently lost
    assert dropped["busy"] >= 3 * 4  # of the >= 4 frames between two takes, all but the newest were replaced
    assert dropped["stopped"] == 1  # the one waiting in the slot at stop
    seqs = [f.seq for f in taken]
    assert all(b - a >= 4 for a, b in zip(seqs, seqs[1:]))  # always the newest, never a stale one


def test_keep_all_waits_for_the_consumer_and_drops_nothing(tmp_path):
    write_folder(tmp_path / "imgs", 6)
    reader = FrameReader(ImageFolderCapture(tmp_path / "imgs", fps=1000), keep="all").start()
    frames = []
    while len(frames) < 6:
        if (f := reader.get(1.0)) is not None:
            frames.append(f)
            wait_for(lambda: False, timeout_s=0.02)  # slow consumer
    reader.stop()
    assert [f.seq for f in frames] == list(range(6)) and reader.dropped == {}


def test_folder_that_vanishes_is_reopened_and_resumes(tmp_path):
    folder, away = tmp_path / "imgs", tmp_path / "away"
    write_folder(folder, 6)
    reader = FrameReader(ImageFolderCapture(folder, fps=1000), keep="all", backoff_s=(0.02, 0.1)).start()
    first = [reader.get(30.0) for _ in range(2)]
    folder.rename(away)  # unplugged USB stick / unmounted share
    events, got = [], []

    def pump_until(kind: str) -> bool:  # keep taking frames (the reader waits for us) until the event
        if (f := reader.get(0.02)) is not None:
            got.append(f)
        events.extend(reader.take_events())
        return any(e.kind == kind for e in events)

    assert wait_for(lambda: pump_until("lost"))
    while (f := reader.get(0.05)) is not None:  # what was read before the loss
        got.append(f)
    away.rename(folder)
    assert wait_for(lambda: pump_until("reopened"))
    got += drain(reader)
    reader.stop()
    values = [int(f.image[0, 0, 0]) for f in first + got]
    assert values == [0, 10, 20, 30, 40, 50]  # every image once, in order, none repeated
    assert reader.reopens == 1 and reader.seen == 6
    assert "imgs disappeared" in next(e.detail for e in events if e.kind == "lost")


def test_source_gone_for_good_is_given_up_without_hanging(tmp_path):
    folder = tmp_path / "imgs"
    write_folder(folder, 10)
    reader = FrameReader(ImageFolderCapture(folder, fps=1000), keep="all", backoff_s=(0.02, 0.05), give_up_s=0.3)
    reader.start()
    assert reader.get(30.0) is not None
    shutil.rmtree(folder)
    rest = drain(reader)
    reader.stop()
    kinds = [e.kind for e in reader.take_events()]
    assert kinds[-2:] == ["lost", "gave_up"] and reader.finished
    seen, dropped = reader.counts()  # files can vanish one by one before the folder does: counted
    assert seen == 1 + len(rest) + sum(dropped.values()) and set(dropped) <= {"unreadable"} and len(rest) < 9


def test_unplugged_device_is_reopened_with_backoff():
    device = ScriptedDevice(frames_before_loss=5, failed_opens=3)
    reader = FrameReader(device, backoff_s=(0.01, 0.04)).start()
    assert wait_for(lambda: device.delivered >= 12)
    reader.stop()
    events = reader.take_events()
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["opened", "lost", "reopened"]
    assert "4 attempts" in events[2].detail  # 3 failed opens, then success
    assert device.opens == 5 and reader.reopens == 1
    seen, dropped = reader.counts()
    assert seen == device.delivered  # every delivered frame is accounted for (taken or dropped)
    assert reader.give_up_s is None  # a device is retried for ever


def test_stop_never_blocks_on_a_stuck_capture():
    class Stuck(ScriptedDevice):
        def read(self):
            wait_for(lambda: False, timeout_s=5)
            return super().read()

    reader = FrameReader(Stuck(10, 0)).start()
    reader.stop(join_s=0.2)
    assert [e.kind for e in reader.take_events()][-1] == "error"  # reported, and we got here


def test_a_video_damaged_in_the_middle_skips_the_frame_and_goes_on(tmp_path):
    """20 KB overwritten in the middle of an MP4 (about 6 % of it): the undecodable frames are counted (unreadable)
    and the frames after them still read; OpenCV alone stops there, after 30 of the 60."""
    path = tmp_path / "scan.mp4"
    write_video(path, 60)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    reader = FrameReader(OpenCVCapture(str(path)), keep="all").start()
    frames = drain(reader)
    reader.stop()
    ends = [e.detail for e in reader.take_events() if e.kind == "end"]
    assert len(frames) >= 36 and reader.seen == 60 and reader.dropped["unreadable"] == 60 - len(frames)
    assert ends and "ended early" not in ends[0]


def test_a_truncated_video_says_it_ended_early(tmp_path):
    path = tmp_path / "scan.avi"
    write_video(path, 60)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    reader = FrameReader(OpenCVCapture(str(path)), keep="all").start()
    frames = drain(reader)
    reader.stop()
    ends = [e.detail for e in reader.take_events() if e.kind == "end"]
    assert 20 < len(frames) < 60 and reader.seen == len(frames) + reader.dropped["unreadable"]
    assert ends and f"ended early: {len(frames)} of the 60 frames it announces" in ends[0]
