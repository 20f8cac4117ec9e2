"""What the firmware bridge costs: codec speed, latency added over the in-process path, and throughput.

    python benchmarks/bench_bridge.py                       # tcp, unix, serial (pty); 3 repeats
    python benchmarks/bench_bridge.py --transports tcp --repeats 5 --frames 40

- codec: encode + decode of one 640x480 BGR FRAME message, and of a RESULT with an RLE mask;
- in-process: one frame through the FramePipeline (ROI tracked, measured) in this process (the baseline), run right
  before each bridge run so that both see the same machine load;
- lockstep: send a frame to `tlfseg bridge serve`, wait for its RESULT, repeat: the round trip, its ratio
  to the in-process time, and the latency the bridge adds: the round trip minus the runtime's own stage
  times for the same frame (robust to the machine's load, which moves both);
- flood: frames sent at a scanner rate (and as fast as the link takes them) without waiting, the runtime
  answering the newest: frames/s offered and results/s delivered, against the in-process frames/s.
Each figure is the median over --repeats runs of the per-run median. Results: printed, and prepended to
benchmarks/results/bench_bridge.md (with the machine), the run appended to benchmarks/results/raw/bench_bridge.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_models import BMODE, SCREEN  # noqa: E402
from benchmarks.results_log import keep_run  # noqa: E402
from benchmarks.scanner_simulator import DEPTH_MM, bridge_server, connect  # noqa: E402
from edge.core.engine import Engine  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.live.runtime import build_pipeline  # noqa: E402
from firmware_bridge.client import BridgeClient  # noqa: E402
from firmware_bridge.frames import frame_message  # noqa: E402
from firmware_bridge.mask import encode_mask  # noqa: E402
from firmware_bridge.messages import Config, Decoder, Result, encode  # noqa: E402
from firmware_bridge.protocol import MaskEncoding, PixelFormat  # noqa: E402
from firmware_bridge.results import assemble_result  # noqa: E402
from firmware_bridge.settings import live_settings  # noqa: E402

HEAD = (
    "# Firmware bridge: codec, latency and throughput\n\n"
    "`python benchmarks/bench_bridge.py`. In lockstep, ms a frame: the frame pipeline in this process, the round trip "
    "through `tlfseg bridge serve`, and the overhead the bridge adds (the round trip less the runtime's own stage "
    "times). In a flood: frames/s offered, results/s delivered. The codec's encode + decode times. Medians over "
    "repeats of per-run medians.\n"
)


def _median_of(runs: list[list[float]]) -> dict[str, float]:
    """Median over runs of each run's median, with the spread of those medians."""
    meds = [float(np.median(r)) for r in runs if r]
    return {"median": float(np.median(meds)), "min": min(meds), "max": max(meds), "runs": len(meds)}


def bench_codec(image: np.ndarray, labels: np.ndarray, repeats: int) -> dict:
    frame = frame_message(image, 1, 0)
    mask = encode_mask(labels, MaskEncoding.RLE)
    result = Result(1, mask_encoding=MaskEncoding.RLE, mask_width=640, mask_height=480, mask=mask)
    out = {}
    for name, msg in (("frame_bgr8_640x480", frame), ("result_rle_mask", result)):
        runs = []
        for _ in range(repeats):
            times = []
            for _ in range(20):
                t = time.perf_counter()
                Decoder().feed(encode(msg, 0))
                times.append((time.perf_counter() - t) * 1e3)
            runs.append(times)
        size = len(encode(msg, 0))
        stats = _median_of(runs)
        out[name] = {"bytes": size, "encode_decode_ms": stats, "mb_per_s": size / 1e6 / (stats["median"] / 1e3)}
    rle_runs = []
    for _ in range(repeats):
        times = []
        for _ in range(20):
            t = time.perf_counter()
            encode_mask(labels, MaskEncoding.RLE)
            times.append((time.perf_counter() - t) * 1e3)
        rle_runs.append(times)
    out["rle_encode_640x480_ms"] = _median_of(rle_runs)
    return out


class InProcess:
    """The frame pipeline (+ RESULT assembly) per frame, in this process: the path without the bridge."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.config, self.msg = Config(depth_mm=DEPTH_MM), frame_message(frames[0], 0)
        self.frames, self.pipeline = frames, build_pipeline(live_settings(self.config), Engine())
        self.run()  # warm up

    def run(self) -> list[float]:
        times = []
        for image in self.frames:
            t = time.perf_counter()
            assemble_result(self.msg, self.pipeline(image), self.config, 0.0, 0.0)
            times.append((time.perf_counter() - t) * 1e3)
        return times


def _paired(runs: list[tuple[float, float, float]]) -> dict[str, float]:
    """(in-process, round trip, bridge overhead) medians per repeat -> the median of each, and of the ratio."""
    base, bridge, overhead = np.array(runs).T
    return {
        "in_process_ms": float(np.median(base)),
        "round_trip_ms": float(np.median(bridge)),
        "overhead_ms": float(np.median(overhead)),
        "ratio": float(np.median(bridge / base)),
        "runs": len(runs),
    }


def lockstep(
    client: BridgeClient, frames: list[np.ndarray], fmt: PixelFormat, mask: MaskEncoding
) -> tuple[list[float], list[float]]:
    """Round trips (ms), and per frame the part that is not the runtime's own work (round trip minus the
    preprocess, inference, postprocess and measure times its RESULT reports): what the bridge adds."""
    round_trips, overheads = [], []
    for i, image in enumerate(frames):
        t = time.perf_counter()
        client.send_frame(image, frame_id=i, fmt=fmt, mask=mask)
        result = client.expect(Result, timeout=30)
        rtt = (time.perf_counter() - t) * 1e3
        lat = result.latency
        work = (lat.preprocess_us + lat.inference_us + lat.postprocess_us + lat.measure_us) / 1e3
        round_trips.append(rtt)
        overheads.append(rtt - work)
    return round_trips, overheads


def flood(client: BridgeClient, frames: list[np.ndarray], first_id: int, fps: float) -> dict[str, float]:
    """Send frames at `fps` (0: as fast as the link takes them) without waiting; the runtime answers the newest."""
    ids = range(first_id, first_id + len(frames))
    results_before = len(client.tally.results)
    start = time.perf_counter()
    for i, (fid, image) in enumerate(zip(ids, frames)):
        if fps > 0:
            time.sleep(max(0.0, start + i / fps - time.perf_counter()))
        client.send_frame(image, frame_id=fid)
    offered = time.perf_counter() - start
    while ids[-1] not in client.tally.results:  # the newest frame is always answered, and last
        client.expect(Result, timeout=30)
    done = time.perf_counter() - start
    answered = set(client.tally.answers)
    if not set(ids) <= answered:
        raise RuntimeError(f"frames {sorted(set(ids) - answered)} were not answered")
    delivered = len(client.tally.results) - results_before
    return {"offered_fps": len(frames) / offered, "results_per_s": delivered / done}


def bench_transport(
    kind: str, baseline: InProcess, repeats: int, flood_fps: list[float], workdir: Path, progress
) -> dict:
    """Each repeat runs the in-process baseline right before the bridge run, so both see the same machine load."""
    frames = baseline.frames
    out: dict = {"lockstep": {}, "flood": {}}
    with bridge_server(kind, workdir) as runtime, connect(runtime) as client:
        client.hello(timeout=20)
        client.configure(Config(depth_mm=DEPTH_MM))
        lockstep(client, frames[:3], PixelFormat.BGR8, MaskEncoding.NONE)  # warm up
        cases = {
            "bgr8": (PixelFormat.BGR8, MaskEncoding.NONE),
            "bgr8+rle_mask": (PixelFormat.BGR8, MaskEncoding.RLE),
            "jpeg": (PixelFormat.JPEG, MaskEncoding.NONE),
        }
        for name, (fmt, mask) in cases.items():
            progress(f"  {kind}: lockstep {name}")
            runs = []
            for _ in range(repeats):
                base = float(np.median(baseline.run()))
                round_trips, overheads = lockstep(client, frames, fmt, mask)
                runs.append((base, float(np.median(round_trips)), float(np.median(overheads))))
            out["lockstep"][name] = _paired(runs)
        for fps in flood_fps:
            label = f"{fps:g} fps" if fps else "max"
            progress(f"  {kind}: flood at {label}")
            runs = []
            for r in range(repeats):
                in_process_fps = 1e3 / float(np.median(baseline.run()))
                f = flood(client, frames * 3, 100_000 * (r + 1) + int(fps) * 1000, fps)  # 3x: a short tail
                runs.append({**f, "in_process_fps": in_process_fps, "ratio": f["results_per_s"] / in_process_fps})
            keys = ("offered_fps", "results_per_s", "in_process_fps", "ratio")
            out["flood"][label] = {k: float(np.median([f[k] for f in runs])) for k in keys}
        client.bye(timeout=60)
    return out


def _transport_rows(result: dict, part: str, first: tuple[str, int], columns: tuple[tuple[str, str, int, int], ...]):
    """A table of ``result["transports"][*][part]``: transport, the row's name (``first``: title, width), then
    ``columns`` of (title, key, width, decimals)."""
    title, width = first
    lines = [f"{'transport':<10}{title:<{width}}" + "".join(f"{head:>{w}}" for head, _, w, _ in columns)]
    for kind, t in result["transports"].items():
        for name, row in t[part].items():
            lines.append(f"{kind:<10}{name:<{width}}" + "".join(f"{row[key]:>{w}.{d}f}" for _, key, w, d in columns))
    return lines


LOCKSTEP_COLUMNS = (
    ("in-process ms", "in_process_ms", 14, 1),
    ("round trip ms", "round_trip_ms", 14, 1),
    ("overhead ms", "overhead_ms", 12, 1),
    ("ratio", "ratio", 7, 2),
)
FLOOD_COLUMNS = (
    ("offered fps", "offered_fps", 12, 1),
    ("results/s", "results_per_s", 11, 1),
    ("in-process fps", "in_process_fps", 16, 1),
    ("ratio", "ratio", 7, 2),
)


def format_table(result: dict) -> str:
    screen = result.get("screen", "640x480")
    lines = [
        f"lockstep: send a {screen} frame, wait for its RESULT. in-process: the frame pipeline in this process, run",
        "right before each bridge run. overhead: round trip minus the runtime's own stage times for the same frame",
        "(what the bridge adds: encoding, the link, decoding, hand-offs). Medians over runs of per-run medians.",
        "",
        *_transport_rows(result, "lockstep", ("case", 15), LOCKSTEP_COLUMNS),
        "",
        "flood: frames sent without waiting (BGR8, no mask); the runtime answers the newest, lists the skipped",
        "",
        *_transport_rows(result, "flood", ("flood at", 10), FLOOD_COLUMNS),
    ]
    c = result["codec"]
    fr, rs = c["frame_bgr8_640x480"], c["result_rle_mask"]
    lines += [
        "",
        f"codec: {screen} BGR FRAME ({fr['bytes']} B) encode+decode {fr['encode_decode_ms']['median']:.2f} ms "
        f"({fr['mb_per_s']:.0f} MB/s); RESULT with RLE mask ({rs['bytes']} B) "
        f"{rs['encode_decode_ms']['median']:.3f} ms; RLE encode of a {screen} mask "
        f"{c['rle_encode_640x480_ms']['median']:.2f} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transports", default="tcp,unix,serial")
    p.add_argument("--frames", type=int, default=20, help="frames per run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--flood-fps", default="30,0", help="scanner rates for the flood runs (0: as fast as possible)")
    p.add_argument("--note", default="", help="a line to keep with the result (e.g. what else was running)")
    p.add_argument(
        "--screen",
        choices=("640x480", "1920x1080"),
        default="640x480",
        help="capture frame size: the small phantom screen, or a 1080p HDMI capture with its B-mode area",
    )
    args = p.parse_args(argv)
    progress = lambda text: print(text, flush=True)  # noqa: E731
    flood_fps = [float(v) for v in args.flood_fps.split(",")]
    result = {"machine": machine_info(), "frames": args.frames, "repeats": args.repeats, "note": args.note}
    result["screen"] = args.screen
    phantom = Phantom(screen=SCREEN, roi=BMODE) if args.screen == "1920x1080" else Phantom()
    frames = [phantom.frame(i).image for i in range(args.frames)]
    progress("codec ...")
    result["codec"] = bench_codec(frames[0], FramePipeline(Engine())(frames[0]).labels, args.repeats)
    baseline = InProcess(frames)
    result["transports"] = {}
    with tempfile.TemporaryDirectory(prefix="tlfseg-bench-") as tmp:
        for kind in [k.strip() for k in args.transports.split(",") if k.strip()]:
            progress(f"{kind} ...")
            result["transports"][kind] = bench_transport(kind, baseline, args.repeats, flood_fps, Path(tmp), progress)
    table = format_table(result)
    print(table)

    machine = result["machine"]
    face, log = keep_run(
        result,
        "bench_bridge",
        HEAD,
        f"```\n{table}\n```",
        title_suffix=f", {machine['cores']} cores, load {machine['load_average_1min_at_start']}",
    )
    print(f"wrote {face}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
