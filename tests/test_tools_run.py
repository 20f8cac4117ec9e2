"""`tlfseg run` end to end (demo source headless with a recording, video files, presets, errors) and presets."""

import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from live_support import SMALL_ROI, blank_png, write_video

from edge.core import strict_json
from edge.core.roi import Box
from edge.live.presets import Preset
from edge.live.sinks import read_log
from edge.measurement.measure import Calibration
from edge.tools.cli import main


def run(argv, capsys):
    code = main(["run", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_demo_headless_with_recording(tmp_path, capsys):
    folder = tmp_path / "demo"
    code, out, _ = run(["--source", "demo", "--frames", "6", "--no-display", "--record", str(folder)], capsys)
    assert code == 0
    summary = json.loads((folder / "summary.json").read_text())
    f = summary["frames"]
    assert f["processed"] == 6 and f["seen"] == f["processed"] + f["dropped_total"] and f["in_flight"] == 0
    assert set(f["dropped"]) <= {"busy", "stopped"}
    frames, events, partial = read_log(folder / "frames.jsonl")
    assert len(frames) == 6 and not partial and frames[-1]["seen"] <= f["seen"]
    assert (folder / "overlay_0000.mp4").stat().st_size > 0 and (folder / "thickness.png").stat().st_size > 0
    assert summary["latency_ms"]["e2e"]["n"] == 6 and summary["thickness"]["unit"] == "px"
    assert "session: 6 frames processed of" in out and "vs 43 s in the paper" in out
    assert f"recorded: {folder}" in out and "int8" in out


def test_video_file_every_frame_with_preset(tmp_path, capsys):
    video = tmp_path / "scan.avi"
    write_video(video, frames=9)
    preset = tmp_path / "scanner.json"
    Preset("test scanner", SMALL_ROI, Calibration(depth_mm=36.0)).save(preset)
    folder = tmp_path / "rec"
    argv = ["--source", str(video), "--every-frame", "--preset", str(preset), "--no-display", "--record", str(folder)]
    code, out, _ = run([*argv, "--status-every", "0", "--fuse"], capsys)
    assert code == 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["frames"] == {"seen": 9, "processed": 9, "dropped": {}, "dropped_total": 0, "in_flight": 0}
    frames, events, _ = read_log(folder / "frames.jsonl")
    assert {r["roi"] for r in frames} == {str(SMALL_ROI)}
    assert {r["mm_per_px"] for r in frames} == {round(36.0 / SMALL_ROI.h, 6)}
    assert all("fuse" in r["latency_ms"] for r in frames)
    assert [e["event"] for e in events] == ["opened", "end"]
    assert summary["thickness"]["unit"] == "mm" and "preset test scanner" in out


def test_flags_override_the_preset(tmp_path, capsys):
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"roi": "0,0,10,10", "mm_per_px": 0.5, "source": {"fps": 40}}))
    argv = ["--preset", str(preset), "--roi", "auto", "--mm-per-px", "0.2", "--frames", "2", "--no-display"]
    code, out, _ = run([*argv, "--status-every", "0"], capsys)
    assert code == 0 and "ROI:    auto-detected; calibration: 0.2 mm/px" in out
    assert "@ 40 fps" in out  # the preset's source rate reached the demo stream


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--source", "/nonexistent/scan.mp4"], "is not 'demo', 'picamera', a device"),
        (["--source", "/dev/video63", "--every-frame"], "--every-frame is for files and folders"),
        (["--source", "/dev/video63", "--stills"], "--stills is for files and folders"),
        (["--stills", "--fuse"], "--fuse averages the frames of a stream; --stills judges each image on its own"),
        (["--stills", "--gliding"], "--gliding is measured between the frames of a stream; --stills judges"),
        (["--source", "/dev/video63"], "cannot open /dev/video63"),
        (["--roi", "1,2,3"], "ROI must be 'x,y,w,h'"),
        (["--model", "/nonexistent.tflite"], "model file not found"),
        (["--frames", "0"], "--frames must be at least 1"),
        (["--preset", "/nonexistent.json"], "preset not found"),
        (["--fascia-depth-mm", "2,8"], "a depth range or hint in mm needs a calibration"),
        (["--model", "/"], "/ is a folder: give the .tflite model file in it"),
        (["--depth-mm", "40", "--fascia-depth-mm", "8,2"], "0 <= LO < HI"),
    ],
)
def test_bad_input_is_one_clear_error(argv, message, capsys):
    code, _, err = run([*argv, "--no-display", "--status-every", "0"], capsys)
    assert code == 1 and message in err and err.count("\n") == 1


def test_an_expected_depth_range_without_the_band_flags_every_frame(capsys):
    argv = ["--frames", "5", "--no-display", "--status-every", "0", "--depth-mm", "40"]
    code, out, _ = run([*argv, "--fascia-depth-mm", "30,40"], capsys)
    assert code == 0 and "inside 30-40 mm" in out and "'outside_range': 5" in out
    code, out, _ = run([*argv, "--fascia-depth-mm", "0,20"], capsys)  # the phantom's band lies inside
    assert code == 0 and "over 5 good frames" in out


def test_a_fixed_roi_that_never_fits_ends_the_run_with_one_clear_line(capsys):
    code, out, err = run(["--roi", "600,400,200,200", "--frames", "50", "--no-display", "--status-every", "1"], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "10 frames in a row could not be processed: ROI 600,400,200,200 lies outside the 640x480 frame" in err
    # every frame counted: the 10 failures, and a frame the source delivered meanwhile (on a loaded machine) stopped
    assert re.search(r"dropped 10 \(error 10\)|dropped 11 \(error 10, stopped 1\)", out)
    assert "source events: error 3, gave_up 1" in out  # the first few reported one by one, every one counted


def test_more_threads_than_cores_are_refused(capsys):
    """100000 interpreter threads crashed the process; more threads than cores never help a CPU-bound model."""
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--threads", "100000", "--no-display"])
    assert exit_.value.code == 2 and "threads must be 1 to" in capsys.readouterr().err


def test_a_file_that_is_not_a_video_is_an_error(tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    code, _, err = run(["--source", str(text), "--no-display", "--status-every", "0"], capsys)
    assert code == 1 and str(text) in err


@pytest.mark.parametrize("name", ["readme.txt", "release.nfo", "key.asc", "notes"])
def test_a_text_file_is_refused_as_a_video(tmp_path, capsys, name):
    """Issue 25: FFmpeg's tty demuxer played readme.txt as a 640x400 video (rc 0, frames measured "good")."""
    text = tmp_path / name
    text.write_text("A text file, not a scan: " + "all work and no play " * 300 + "\n\u00e9\x1b[1m bold\n")
    code, _, err = run(["--source", str(text), "--no-display", "--status-every", "0"], capsys)
    assert code == 1 and err.strip() == f"tlfseg run: error: {text} is a text file, not a video"


def _run_measured(argv: list[str]) -> tuple[int, str, float]:
    """`tlfseg run` in a process of its own: (exit status, stderr, its peak RSS in MB)."""
    # VmHWM is this process's own peak: ru_maxrss would carry over the forking pytest's (exec keeps it)
    code = (
        "import sys\nfrom edge.tools.cli import main\nrc = main(sys.argv[1:])\n"
        "hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "print(int(hwm.split()[1]) / 1024, file=sys.stderr)\nsys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code, "run", *argv], capture_output=True, text=True, timeout=300)
    *lines, peak = done.stderr.splitlines()
    return done.returncode, "\n".join(lines), float(peak)


def test_decoded_pixels_are_bounded_before_decoding(tmp_path, phantom):
    """Issue 25: a folder with one valid 20000x20000 PNG (389 KB on disk) took 6.6 GB and ended the run. An image's
    size is read from its header: one larger than any capture is counted unreadable, and the next image goes on."""
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a_huge.png").write_bytes(blank_png(20000, 20000))
    (folder / "b_over.png").write_bytes(blank_png(4100, 4100))  # just over 4096 x 4096
    cv2.imwrite(str(folder / "c_scan.png"), phantom.frame(0).image)
    rec = tmp_path / "rec"
    argv = ["--source", str(folder), "--every-frame", "--no-display", "--status-every", "0", "--record", str(rec)]
    code, err, peak_mb = _run_measured(argv)
    assert code == 0, err
    summary = json.loads((rec / "summary.json").read_text())
    assert summary["frames"] == {**summary["frames"], "seen": 3, "processed": 1, "dropped": {"unreadable": 2}}
    details = " ".join(e["detail"] for e in summary["events"])
    assert (
        "a_huge.png: frame 20000x20000 is larger than any capture" in details
        and "b_over.png: frame 4100x4100" in details
    )
    assert peak_mb < 450, peak_mb  # decoded, the 20000 x 20000 grey image alone is 400 MB (a phantom run: ~100 MB)


def test_a_video_of_frames_larger_than_any_capture_is_refused_before_decoding(tmp_path, capsys):
    video = tmp_path / "huge.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (4100, 4100))
    writer.write(np.zeros((4100, 4100, 3), np.uint8))
    writer.release()
    code, _, err = run(["--source", str(video), "--no-display", "--status-every", "0"], capsys)
    assert code == 1 and f"{video}: frame 4100x4100 is larger than any capture" in err


def test_a_frame_the_recorder_cannot_write_is_that_frames_error(tmp_path, phantom):
    """Issue 25: an 8192x16 image (MP4 takes sides up to 8191) ended the run rc 1, "cannot write an MP4 video", no
    summary. Its overlay is now missing from the video, said in its log line and the events; the run goes on."""
    folder = tmp_path / "images"
    folder.mkdir()
    strip = cv2.resize(phantom.frame(0).image, (8192, 16))
    cv2.imwrite(str(folder / "a_strip.png"), strip)
    cv2.imwrite(str(folder / "b_scan.png"), phantom.frame(0).image)
    rec = tmp_path / "rec"
    argv = ["--source", str(folder), "--every-frame", "--no-display", "--status-every", "0", "--record", str(rec)]
    code, err, _ = _run_measured(argv)
    assert code == 0, err
    frames, events, _ = read_log(rec / "frames.jsonl")
    assert len(frames) == 2 and "beyond what MP4 (mp4v) encodes" in frames[0]["overlay_not_recorded"]
    assert "overlay_not_recorded" not in frames[1]
    summary = json.loads((rec / "summary.json").read_text())
    assert summary["frames"]["processed"] == 2 and "overlay_0000.mp4" in summary["files"]
    assert any("1 frames' overlays are not in the video" in e["detail"] for e in events)
    video = cv2.VideoCapture(str(rec / "overlay_0000.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 1 and int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640


@pytest.mark.parametrize("moment", ["edge.tools.cli._register_all", "edge.live.runtime.build"])
def test_sigterm_while_starting_ends_the_run_as_ctrl_c_does(tmp_path, moment):
    """Issue 25: SIGTERM in the first 0.3 s killed the process (exit by signal) before the handler was installed; the
    handler now comes first. The signal is sent at a given moment of the start: while the subcommands are registered,
    and while the session is built."""
    module, name = moment.rsplit(".", 1)
    code = (
        f"import os, signal, sys, {module} as m\n"
        f"real = m.{name}\n"
        f"def first_a_signal(*a, **k):\n    os.kill(os.getpid(), signal.SIGTERM)\n    return real(*a, **k)\n"
        f"m.{name} = first_a_signal\n"
        "from edge.tools.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    argv = ["run", "--frames", "5", "--no-display", "--status-every", "0", "--record", str(tmp_path / "rec")]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr  # before: -15, killed by the signal
    assert done.stderr.strip().splitlines()[-1] == "interrupted"


def test_a_source_that_cannot_open_leaves_no_recording(tmp_path, capsys):
    code, _, err = run(["--source", "/dev/video63", "--no-display", "--record", str(tmp_path / "rec")], capsys)
    assert code == 1 and "cannot open /dev/video63" in err and not (tmp_path / "rec").exists()


def test_help_explains_sources_and_options(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for needle in (
        "--source",
        "picamera",
        "/dev/video0",
        "--record",
        "--no-display",
        "--threads",
        "--delegate",
        "--frames",
        "--fuse",
        "--preset",
        "--mm-per-px",
        "--depth-mm",
        "YUYV",
        "UYVY",
        "docs/live-runtime.md",
    ):
        assert needle in text, needle


def test_presets(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "x", "scale_points": [[5, 10], [5, 110]], "scale_mm": 20}))
    preset = Preset.load(path)
    assert preset.calibration.mm_per_px == pytest.approx(0.2) and preset.roi is None
    path.write_text(json.dumps({"roi": "1,2,30,40", "depth_mm": 35, "source": {"fourcc": "YUYV", "width": 1280}}))
    preset = Preset.load(path)
    assert preset.roi == Box(1, 2, 30, 40) and preset.calibration.depth_mm == 35
    assert preset.source.fourcc == "YUYV" and preset.source.width == 1280 and preset.source.fps is None
    preset.save(tmp_path / "again.json")
    assert Preset.load(tmp_path / "again.json") == preset
    for bad, message in [
        ({"roi": "1,2,3,4", "zoom": 2}, "unknown keys"),
        ({"mm_per_px": 0.1, "depth_mm": 40}, "one calibration"),
        ({"scale_points": [[0, 0]], "scale_mm": 10}, "scale_points"),
        ({"source": {"codec": "h264"}}, "unknown source keys"),
        ({"source": {"fps": -1}}, '"fps" must be a finite number in \\[0.1, 1000\\], got -1'),
    ]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            Preset.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Preset.load(path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--segment-s", "inf"], "--segment-s must be a finite number in [0.5, 3600], got 'inf'"),
        (["--segment-s", "nan"], "--segment-s must be a finite number"),
        (["--segment-s", "0"], "--segment-s must be a finite number in [0.5, 3600], got '0'"),
        (["--mm-per-px", "inf"], "--mm-per-px must be a finite number in [0.001, 5], got 'inf'"),
        (["--mm-per-px", "1e308"], "--mm-per-px must be a finite number in [0.001, 5], got '1e308'"),  # issue 25
        (["--mm-per-px", "1e19"], "--mm-per-px must be a finite number in [0.001, 5]"),
        (["--depth-mm", "1e308"], "--depth-mm must be a finite number in [1, 500], got '1e308'"),
        (["--depth-mm", "0.5"], "--depth-mm must be a finite number in [1, 500]"),
        (["--depth-mm", "-3"], "--depth-mm must be a finite number"),
        (["--fps", "1e-9"], "--fps must be a finite number in [0.1, 1000]"),
        (["--fps", "nan"], "--fps must be a finite number"),
        (["--fuse", "0"], "--fuse must be a finite number in (0, 1]"),
        (["--status-every", "-1"], "--status-every must be a finite number in [0, inf]"),
    ],
)
def test_numbers_on_the_command_line_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", *argv, "--no-display"])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def _strict(text: str):
    """JSON as the standard has it: NaN and Infinity are not numbers."""

    def refuse(word: str):
        raise ValueError(f"not strict JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_every_json_file_is_strict_at_the_largest_calibration(tmp_path, capsys):
    """Issue 25: --mm-per-px 1e308 wrote "thickness_mm": Infinity in every frames.jsonl line and NaN in summary.json;
    the calibration is now bounded, and the writers turn whatever is not finite into null."""
    folder = tmp_path / "rec"
    argv = ["--frames", "3", "--no-display", "--status-every", "0", "--mm-per-px", "5", "--record", str(folder)]
    code, _, _ = run(argv, capsys)
    assert code == 0
    frames = [_strict(line) for line in (folder / "frames.jsonl").read_text().splitlines()]
    assert _strict((folder / "summary.json").read_text())["thickness"]["unit"] == "mm"
    assert all(f["thickness_mm"] is None or f["thickness_mm"] < 1000 for f in frames if "seq" in f)
    assert _strict(strict_json.dumps({"a": float("inf"), "b": [float("nan"), 1.5]})) == {"a": None, "b": [None, 1.5]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"depth_mm": 1e999}', '"depth_mm" must be a finite number in [1, 500], got inf'),
        ('{"mm_per_px": 1e308}', '"mm_per_px" must be a finite number in [0.001, 5], got 1e+308'),  # issue 25
        ('{"scale_points": [[0, 0], [0, 10]], "scale_mm": 1e6}', '"scale_points" over "scale_mm" give 100000 mm'),
        ('{"mm_per_px": true}', '"mm_per_px" must be a number, got True'),
        ('{"roi": 5}', '"roi" is a string "x,y,w,h" in pixels, got 5'),
        ('{"roi": [1, 2, 3, 4]}', '"roi" is a string "x,y,w,h" in pixels'),
        ('{"source": {"fps": "fast"}}', """"source" "fps" must be a number, got 'fast'"""),
        ('{"source": {"width": 640.5}}', '"source" "width" must be a whole number of pixels'),
        ('{"fascia_depth_mm": [2, "deep"]}', '"fascia_depth_mm" must be a number'),
        ('{"source": {"fps": 1e-9}}', '"source" "fps" must be a finite number in [0.1, 1000]'),
        ('{"depth_mm": 1' + "0" * 400 + "}", '"depth_mm" must be a number'),
    ],
)
def test_numbers_in_a_preset_are_checked_and_named(tmp_path, text, message, capsys):
    preset = tmp_path / "scanner.json"
    preset.write_text(text)
    code, _, err = run(["--preset", str(preset), "--no-display", "--status-every", "0"], capsys)
    assert code == 1 and err.count("\n") == 1 and str(preset) in err and message in err


def test_a_binary_preset_and_a_negative_roi_are_one_clear_line(tmp_path, capsys):
    preset = tmp_path / "scanner.json"
    preset.write_bytes(bytes(range(256)))
    code, _, err = run(["--preset", str(preset), "--no-display"], capsys)
    assert code == 1 and f"preset {preset} is not valid JSON text" in err and err.count("\n") == 1
    code, _, err = run(["--roi", "-10,-10,100,100", "--no-display"], capsys)
    assert code == 1 and "invalid ROI" in err and "x, y must be >= 0" in err


def test_gliding_is_recorded_per_frame_and_summed_in_the_summary(tmp_path, capsys):
    folder = tmp_path / "glide"
    argv = ["--source", "demo", "--frames", "4", "--no-display", "--status-every", "0", "--every-frame"]
    code, out, _ = run([*argv, "--gliding", "--record", str(folder)], capsys)
    assert code == 0
    frames, _, _ = read_log(folder / "frames.jsonl")
    assert frames[0]["gliding"]["flags"] == ["no_previous"] and all("gliding" in r["latency_ms"] for r in frames)
    g = json.loads((folder / "summary.json").read_text())["gliding"]
    assert g["pairs"] + g["flagged"] == 4 and set(g["shear_px"]) == {"fascia/below", "above/fascia"}
    assert "gliding: cumulative fascia/below" in out


def test_exit_status_says_why_a_run_could_not_go_on(capsys):
    from edge.live.session import Session
    from edge.tools.commands.run import exit_status

    ok = Session("demo", "model")
    ok.seen, ok.processed = 5, 5
    assert exit_status(ok, "demo") == 0
    gone = Session("/dev/video0", "model")
    gone.seen, gone.processed = 5, 5
    gone.add_event({"kind": "gave_up", "t": 9.0, "detail": "/dev/video0: 12 attempts in 10 s: unplugged"})
    assert exit_status(gone, "/dev/video0") == 1 and "12 attempts" in capsys.readouterr().err
    stopped = Session("demo", "model")
    stopped.interrupted = True
    assert exit_status(stopped, "demo") == 130


def test_gliding_over_a_recorded_video_finds_its_movement_cycles_and_plots_the_shear(tmp_path, capsys):
    """The offline path: a recorded (MJPG) phantom video gliding back and forth twice, 30 frames a cycle at up to
    2 px/frame; each stroke slides the layers 0.5 x 2 x 30 / pi = 9.5 px = 0.76 mm (measured: 1 % off for fascia/below,
    5-9 % for above/fascia, whose dark strip JPEG's blocks reach; with phase correlation alone 4-12 %)."""
    import cv2
    import numpy as np

    from edge.live.phantom import Phantom

    video, folder = tmp_path / "glide.avi", tmp_path / "rec"
    p = Phantom(glide=2.0, persistence=0.95, glide_period=30)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    for i in range(70):
        writer.write(p.frame(i).image)
    writer.release()
    argv = ["--source", str(video), "--gliding", "--every-frame", "--no-display", "--status-every", "0"]
    code, out, _ = run([*argv, "--mm-per-px", "0.08", "--record", str(folder)], capsys)
    assert code == 0 and "cycle 1 (frames" in out
    g = json.loads((folder / "summary.json").read_text())["gliding"]
    truth_mm = 0.5 * 2.0 * 30 / np.pi * 0.08
    assert len(g["cycles"]) == 2
    for c in g["cycles"]:
        assert all(v == pytest.approx(truth_mm, rel=0.15) for v in c["shear_mm"].values())
    frames, _, _ = read_log(folder / "frames.jsonl")
    assert [r["gliding"]["cycle"] for r in frames][-1] == 2 and frames[10]["gliding"]["cycle"] == 0
    assert (folder / "gliding.png").stat().st_size > 0 and "gliding.png" in json.loads(
        (folder / "summary.json").read_text()
    )["files"]


def test_options_become_the_live_settings_the_builder_takes(tmp_path):
    """`tlfseg run`'s options parse into one LiveSettings: the preset's fields, every option given over them."""
    from edge.tools.cli import build_parser
    from edge.tools.commands.run import settings_from

    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"name": "X", "roi": "0,0,10,10", "depth_mm": 40, "source": {"fps": 40}}))
    argv = ["run", "--preset", str(preset), "--fps", "30", "--second-line", "0.9", "--fuse", "--save-frames", "f"]
    s = settings_from(build_parser().parse_args(argv))
    assert s.roi == Box(0, 0, 10, 10) and s.calibration == Calibration(depth_mm=40.0) and s.capture.fps == 30.0
    assert s.measure.max_line_rival == 0.9 and s.fuse == 0.5 and str(s.save_frames) == "f" and s.preset == "X"
    plain = settings_from(build_parser().parse_args(["run"]))
    assert plain.measure.max_line_rival is None and plain.display and plain.status_every == 2.0
