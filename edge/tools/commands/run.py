"""`tlfseg run`: the live runtime (capture -> segmentation -> fascia measurements -> overlay, recording)."""

from __future__ import annotations

import argparse

from edge.core.values import CALIBRATION_LIMITS, SOURCE_LIMITS, arg
from edge.tools.commands import add_model_options, add_roi_option, parse_roi, positive_int

EPILOG = """\
sources:
  demo              the built-in synthetic probe stream (no hardware needed)
  /dev/video0, 0    an HDMI/USB grabber or the Pi's TC358743 HDMI-to-CSI-2 bridge (V4L2)
  picamera          a Raspberry Pi camera-port source through picamera2
  igtl://HOST:PORT[/DEVICE]  IMAGE messages from an OpenIGTLink server (PLUS; the igtl extra)
  FILE              a video file (played at its own rate; --every-frame to process all frames)
  DIR               a folder of images, in name order: frames of one scan (the band tracked), or with --stills
                    separate captures, each judged on its own

examples:
  tlfseg run --source demo
  tlfseg run --source demo --frames 120 --no-display --record out/demo
  tlfseg run --source scan.mp4 --every-frame --gliding --record out/scan --mm-per-px 0.08
  tlfseg run --source /dev/video0 --fourcc MJPG --width 1920 --height 1080 --fps 30 --depth-mm 40
  tlfseg run --source scan.mp4 --every-frame --record out/scan --no-display
  tlfseg run --source captures/ --stills --record out/captures --no-display
  tlfseg run --source /dev/video0 --preset scanner-x.json --record out/patient-07

Ctrl-C (or q in the window) ends the run; the session summary is printed either way.
See docs/live-runtime.md for capture set-up (V4L2, HDMI, Raspberry Pi).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="segment and measure the fascia live (capture device, file, folder or demo)",
        description="The live runtime: frames from a source are segmented (fascia / above / below), the fascia\n"
        "is measured (thickness, echogenicity, coverage, confidence), and the results are shown, printed\n"
        "and recorded, every stage timed; every frame is processed or counted as dropped with a reason.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--source",
        default="demo",
        help="demo | /dev/videoN | N | picamera | igtl://HOST:PORT[/DEVICE] | FILE | DIR (default: demo)",
    )
    add_model_options(p, threads_default="all")
    add_roi_option(p, "the preset's, else detected and re-detected when the screen layout changes")
    cal = p.add_mutually_exclusive_group()
    cal.add_argument(
        "--mm-per-px",
        type=arg("--mm-per-px", **CALIBRATION_LIMITS["mm_per_px"]),
        metavar="MM",
        help="calibration: millimetres per pixel (0.001 to 5)",
    )
    cal.add_argument(
        "--depth-mm",
        type=arg("--depth-mm", **CALIBRATION_LIMITS["depth_mm"]),
        metavar="MM",
        help="calibration: the scanner's depth setting (spans the ROI rows; 1 to 500)",
    )
    hint = p.add_argument_group("where the fascia is (optional; needs a calibration)")
    hint.add_argument(
        "--fascia-depth-mm",
        type=_depth_range,
        metavar="LO,HI",
        help="the fascia's expected depth range: in each column the band candidate inside it is kept, and a frame "
        "with none in most columns is flagged outside_range (a preset's fascia_depth_mm)",
    )
    hint.add_argument(
        "--hint-depth-mm",
        type=arg("--hint-depth-mm", low_open=False),
        metavar="MM",
        help="the fascia's depth: the band candidate nearest it is kept (a click in the live window does the same)",
    )
    p.add_argument(
        "--second-line",
        type=arg("--second-line"),
        metavar="RATIO",
        help="flag second_line where another bright line runs within three band thicknesses of the band at least "
        "RATIO times as prominent (off by default: it costs 4 %% of right frames on an unseen layout, "
        "docs/live-runtime.md)",
    )
    p.add_argument(
        "--preset", metavar="FILE", help="scanner preset JSON (ROI, calibration, capture settings); flags override it"
    )
    p.add_argument(
        "--record",
        metavar="DIR",
        help="record overlay video, per-frame log, plot and summary in DIR "
        "(a new DIR-2, DIR-3, ... if DIR already holds files)",
    )
    p.add_argument(
        "--save-frames",
        metavar="DIR",
        help="keep raw frames worth labelling in DIR (docs/adapt.md): the flagged ones and a sample spread over the "
        "session, each with the runtime's reason in DIR/index.json (a new DIR-2, ... if DIR already holds files)",
    )
    p.add_argument(
        "--save-frames-max",
        type=positive_int,
        default=200,
        metavar="N",
        help="at most N frames kept by --save-frames, half flagged, half sampled (default 200)",
    )
    p.add_argument(
        "--igtl-out",
        metavar="HOST:PORT",
        help="serve results over OpenIGTLink (3D Slicer connects): label map IMAGE, its LBMETA and measurement STRING "
        "a frame (the igtl extra)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --igtl-out listen on an address other than loopback (it has no authentication)",
    )
    p.add_argument("--no-display", action="store_true", help="no live window (default: a window if a display exists)")
    p.add_argument(
        "--frames",
        type=int,
        metavar="N",
        help="stop after this many processed frames (default: until the source ends or Ctrl-C)",
    )
    p.add_argument(
        "--fuse",
        type=arg("--fuse", high=1.0),
        nargs="?",
        const=0.5,
        metavar="ALPHA",
        help="temporal fusion: running average of class probabilities, weight ALPHA of the new frame "
        "(default 0.5 when given; off without the flag)",
    )
    p.add_argument(
        "--gliding",
        action="store_true",
        help="measure fascia gliding between frames: shear of the fascia over the tissue below and under the tissue "
        "above (per frame in the log, cumulative in the overlay and summary; docs/live-runtime.md)",
    )
    dev = p.add_argument_group("capture settings (devices; --fps also sets the demo, file and folder rate)")
    dev.add_argument(
        "--fourcc",
        type=str.upper,
        help="V4L2 pixel format: MJPG (default; USB grabbers at full resolution), YUYV (uncompressed), "
        "UYVY (the TC358743 HDMI-to-CSI-2 bridge)",
    )
    dev.add_argument("--width", type=_pixels("--width"), metavar="PX", help="capture width")
    dev.add_argument("--height", type=_pixels("--height"), metavar="PX", help="capture height")
    dev.add_argument(
        "--fps",
        type=arg("--fps", **SOURCE_LIMITS["fps"]),
        metavar="F",
        help="capture or playback frame rate",
    )
    p.add_argument(
        "--every-frame",
        action="store_true",
        help="files and folders: process every frame instead of playing in real time with drops",
    )
    p.add_argument(
        "--stills",
        action="store_true",
        help="the images are separate captures (several patients, positions, days), not frames of one scan: each "
        "is judged on its own (ROI per image, no band track, no --fuse or --gliding) and every one is processed, "
        "as tlfseg predict does",
    )
    p.add_argument(
        "--status-every",
        type=arg("--status-every", low_open=False),
        default=2.0,
        metavar="S",
        help="seconds between status lines (0: none; default 2)",
    )
    p.add_argument(
        "--segment-s",
        type=arg("--segment-s", low=0.5, low_open=False, high=3600.0),
        default=10.0,
        metavar="S",
        help="length of each recorded MP4 segment (a crash loses at most the open one; default 10)",
    )
    p.set_defaults(handler=handle, session_end=[])


def add_session_end(parser: argparse.ArgumentParser, prepare) -> None:
    """For plug-ins that add options to `tlfseg run` (clinic: `--dicom`): `prepare(args)` runs before the session
    (check the options, fail early) and returns None or `finish(folder)`, called with the `--record` folder (None
    without one) when the session ends, however it ended (as asked, Ctrl-C, its source given up)."""
    parser.set_defaults(session_end=[*parser.get_default("session_end"), prepare])


def _pixels(option: str):
    """argparse type: a whole number of pixels within the capture limits (`edge.core.values.SOURCE_LIMITS`)."""
    size = arg(option, **SOURCE_LIMITS[option[2:]])

    def parse(text: str) -> int:
        value = size(text)
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"{option} must be a whole number of pixels, got {text!r}")
        return int(value)

    return parse


def _depth_range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    try:
        return float(lo), float(hi)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a depth range is LO,HI in mm, got {text!r}") from None


def settings_from(args: argparse.Namespace):
    """The `LiveSettings` the options ask for: the preset's, with every option given over it."""
    from dataclasses import replace

    from edge.live.presets import Preset
    from edge.live.runtime import LiveSettings
    from edge.measurement.measure import Calibration

    settings = LiveSettings.from_preset(Preset.load(args.preset)) if args.preset else LiveSettings()
    if args.roi is not None:  # "auto" too: detect, whatever the preset says
        settings = replace(settings, roi=parse_roi(args.roi))
    calibrated = args.mm_per_px is not None or args.depth_mm is not None
    return settings.override(
        source=args.source,
        model=args.model,
        threads=args.threads,
        delegate=args.delegate,
        calibration=Calibration(args.mm_per_px, args.depth_mm) if calibrated else None,
        fourcc=args.fourcc,
        width=args.width,
        height=args.height,
        fps=args.fps,
        fascia_depth_mm=args.fascia_depth_mm,
        hint_depth_mm=args.hint_depth_mm,
        measure=replace(settings.measure, max_line_rival=args.second_line) if args.second_line else None,
        fuse=args.fuse,
        gliding=args.gliding,
        video=not args.stills,
        every_frame=args.every_frame,
        frames=args.frames,
        record=args.record,
        segment_s=args.segment_s,
        igtl_out=args.igtl_out,
        save_frames=args.save_frames,
        save_frames_max=args.save_frames_max,
        allow_remote=args.allow_remote or None,
        display=not args.no_display,
        status_every=args.status_every,
    )


def handle(args: argparse.Namespace) -> int:
    import signal
    import sys

    from edge.live.runtime import build

    settings = settings_from(args)
    finishers = [f for prepare in args.session_end if (f := prepare(args)) is not None]
    live = build(settings)
    for note in live.notes:
        print(note, file=sys.stderr)
    print("\n".join(live.describe()))
    previous = signal.signal(signal.SIGTERM, lambda *_: live.loop.stop(interrupted=True))
    try:
        session = live.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(session.report())
    if hint := stills_hint(session, live.capture, settings.video):
        print(hint, file=sys.stderr)
    if live.recorder:
        print(f"recorded: {live.recorder.folder} ({', '.join(session.files)})")
    if live.saver:
        print(f"kept: {live.saver.describe()}")
    status = exit_status(session, live.capture.name)
    for finish in finishers:
        try:
            finish(live.recorder.folder if live.recorder else None)
        except (ValueError, OSError, RuntimeError) as exc:
            print(f"tlfseg run: error: {exc}", file=sys.stderr)
            status = status or 1
    return status


#: a folder read as a stream with this share of its frames flagged `jump` (and at least 3) is likely separate captures
STILLS_HINT_SHARE = 0.1


def stills_hint(session, capture, video: bool) -> str | None:
    """A note when a folder read as one scan jumped from band to band: its images are most likely separate captures
    (frames of one scan moved smoothly gave no `jump` in 4,800: benchmarks/results/real_video.md)."""
    from edge.live.sources import ImageFolderCapture

    jumps = session.flags.get("jump", 0)
    folder_as_stream = video and isinstance(capture, ImageFolderCapture)
    if not folder_as_stream or jumps < max(3, STILLS_HINT_SHARE * session.processed):
        return None
    return (
        f"note: {jumps} of {session.processed} images were flagged jump (the band far from the images before): "
        "if they are separate captures rather than frames of one scan, run with --stills"
    )


def exit_status(session, source: str) -> int:
    """0 for a run that ended as asked or with its source, 130 when the user interrupted it (Ctrl-C, SIGTERM), 1 with
    the reason on stderr when it could not go on: frames that keep failing, a source given up, or no frame at all."""
    import sys

    gave_up = [e["detail"] for e in session.events if e["kind"] == "gave_up"]
    if session.interrupted:
        return 130
    reason = session.failed or (gave_up[0] if gave_up else None)
    if reason is None and session.seen == 0:
        reason = f"no frame could be read from {source} (not a video, an image folder or a capture device?)"
    if reason is None and session.processed == 0:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(session.dropped.items()))
        reason = f"none of the {session.seen} frames from {source} could be processed (dropped: {drops})"
    if reason is None:
        return 0
    print(f"tlfseg run: error: {reason}", file=sys.stderr)
    return 1
