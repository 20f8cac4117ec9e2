"""A scanner simulator: streams phantom frames to `tlfseg bridge serve` over TCP, a Unix socket and a
serial line (a pseudo-terminal), the way firmware would, and checks what comes back.

    python benchmarks/scanner_simulator.py                          # all three transports, 30 frames each
    python benchmarks/scanner_simulator.py --transports serial --frames 60 --fps 10 --format jpeg

For each transport it starts the real `tlfseg bridge serve` in a child process, says HELLO, sends a CONFIG
(calibration), streams frames on the scanner's clock without ever waiting for results (the newest frame
wins at the runtime), says BYE, and then checks:
  - every frame id came back exactly once: in a RESULT, in a skip list, or in an ERROR;
  - every RESULT's mask equals what a FramePipeline makes of the same frame in this process
    (as `tlfseg predict` would), and its thickness equals edge.measurement.measure's;
  - the server stops cleanly on SIGTERM.
Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.core.engine import Engine  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.measurement.measure import Calibration  # noqa: E402
from firmware_bridge.client import BridgeClient, result_mask  # noqa: E402
from firmware_bridge.frames import FrameLimits, frame_image, frame_message  # noqa: E402
from firmware_bridge.messages import Config, Received, Result  # noqa: E402
from firmware_bridge.protocol import MaskEncoding, PixelFormat  # noqa: E402
from firmware_bridge.testing.pty import open_pty_pair  # noqa: E402
from firmware_bridge.transport import Endpoint  # noqa: E402

DEPTH_MM = 40.0  #: the simulated scanner's depth setting (spans the B-mode rows)
FORMATS = {"bgr8": PixelFormat.BGR8, "grey8": PixelFormat.GREY8, "jpeg": PixelFormat.JPEG, "png": PixelFormat.PNG}


@dataclass
class ServeProcess:
    """A `tlfseg bridge serve` child process and how to reach it."""

    process: subprocess.Popen
    endpoint: Endpoint
    client_link: object | None = None  #: for serial: the pty master the simulated firmware speaks on


@contextlib.contextmanager
def bridge_server(kind: str, workdir: Path, extra: tuple[str, ...] = ()) -> Iterator[ServeProcess]:
    """Start `tlfseg bridge serve` on a fresh endpoint of `kind` (tcp, unix, serial) and stop it afterwards."""
    link = None
    if kind == "tcp":
        transport = "tcp://127.0.0.1:0"
    elif kind == "unix":
        transport = f"unix:{workdir / 'bridge.sock'}"
    else:
        link, device = open_pty_pair()
        transport = f"serial:{device},921600"
    cmd = [sys.executable, "-m", "edge.tools.cli", "bridge", "serve", "--transport", transport, *extra]
    log = open(workdir / f"serve_{kind}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        endpoint = None
        for line in proc.stdout:
            if line.startswith("listening on "):
                endpoint = Endpoint.parse(line.split()[2])
                break
        if endpoint is None:
            raise RuntimeError(f"tlfseg bridge serve did not start; see {log.name}")
        yield ServeProcess(proc, endpoint, link)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if link is not None:
            link.close()


def connect(runtime: ServeProcess) -> BridgeClient:
    if runtime.client_link is not None:
        return BridgeClient(runtime.client_link)
    return BridgeClient.connect(runtime.endpoint)


@dataclass
class StreamReport:
    transport: str
    fmt: str
    sent: int = 0
    results: int = 0
    skipped: int = 0
    errors: int = 0
    accounted: bool = False
    masks_checked: int = 0
    masks_equal: int = 0
    measures_equal: int = 0
    late_sends: int = 0  #: frames the simulated scanner could not send on time (link too slow)
    rtt_ms: list[float] = field(default_factory=list)  #: frame sent -> its RESULT received
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    clean_exit: bool = False

    @property
    def ok(self) -> bool:
        return self.accounted and self.masks_equal == self.masks_checked and self.measures_equal == self.masks_checked


def stream(
    client: BridgeClient, frames: list[np.ndarray], fps: float, fmt: PixelFormat, report: StreamReport
) -> dict[int, float]:
    """Send frames on the scanner's clock, collecting whatever comes back; returns the send times."""
    sent_at: dict[int, float] = {}
    start = time.monotonic()
    for i, image in enumerate(frames):
        due = start + i / fps if fps > 0 else time.monotonic()
        while (left := due - time.monotonic()) > 0:
            _collect(client, sent_at, report, left)
        if time.monotonic() - due > 1.0 / max(fps, 1e-9):
            report.late_sends += 1
        sent_at[i] = time.monotonic()
        client.send_frame(image, frame_id=i, timestamp_us=int(sent_at[i] * 1e6), fmt=fmt, mask=MaskEncoding.RLE)
        _collect(client, sent_at, report, 0.0)
    report.sent = len(frames)
    return sent_at


def _collect(client: BridgeClient, sent_at: dict[int, float], report: StreamReport, timeout: float) -> None:
    event = client.receive(timeout)
    while event is not None:
        if isinstance(event, Received) and isinstance(event.msg, Result) and event.msg.frame_id in sent_at:
            report.rtt_ms.append((time.monotonic() - sent_at[event.msg.frame_id]) * 1e3)
        event = client.receive(0.0)


def check(client: BridgeClient, frames: list[np.ndarray], fmt: PixelFormat, report: StreamReport) -> None:
    tally = client.tally
    report.results, report.skipped = len(tally.results), len(tally.skipped)
    report.errors = len(tally.errors)
    report.accounted = sorted(tally.answers) == list(range(len(frames)))  # each id exactly once
    pipeline = FramePipeline(Engine(), video=False, calibration=Calibration(depth_mm=DEPTH_MM))
    for fid, result in tally.results.items():
        seen = frame_image(frame_message(frames[fid], fid, fmt=fmt), FrameLimits())  # what the runtime decoded
        frame_result = pipeline(seen)
        report.masks_checked += 1
        report.masks_equal += bool(np.array_equal(result_mask(result), frame_result.labels))
        m = frame_result.measurement
        want = math.nan if m.thickness_mm is None else m.thickness_mm
        same = (math.isnan(want) and math.isnan(result.thickness_mm)) or math.isclose(
            result.thickness_mm, want, rel_tol=1e-6
        )
        report.measures_equal += same
        lat = result.latency
        for name in ("queue_us", "decode_us", "preprocess_us", "inference_us", "postprocess_us", "measure_us"):
            report.stages_ms.setdefault(name[:-3], []).append(getattr(lat, name) / 1e3)
        report.stages_ms.setdefault("total", []).append(lat.total_us / 1e3)


def run_transport(kind: str, frames: list[np.ndarray], fps: float, fmt_name: str, workdir: Path) -> StreamReport:
    fmt = FORMATS[fmt_name]
    report = StreamReport(kind, fmt_name)
    with bridge_server(kind, workdir) as runtime:
        with connect(runtime) as client:
            hello = client.hello(timeout=20)
            print(f"  {kind}: {runtime.endpoint} -> {hello.software}, {hello.model}", flush=True)
            client.configure(Config(depth_mm=DEPTH_MM))
            stream(client, frames, fps, fmt, report)
            client.bye(timeout=60)
            check(client, frames, fmt, report)
        runtime.process.send_signal(signal.SIGTERM)
        report.clean_exit = runtime.process.wait(timeout=30) == 0
    return report


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def summary(reports: list[StreamReport]) -> str:
    rows = [
        f"{'transport':<10}{'format':<7}{'sent':>6}{'results':>8}{'skipped':>8}{'errors':>7}{'late':>6}"
        f"{'masks ok':>10}{'rtt p50 ms':>12}{'infer p50':>10}  verdict"
    ]
    for r in reports:
        masks = f"{r.masks_equal}/{r.masks_checked}"
        verdict = "ok" if r.ok and r.clean_exit else "FAILED"
        if not r.accounted:
            verdict += " (frame ids not all answered exactly once)"
        rows.append(
            f"{r.transport:<10}{r.fmt:<7}{r.sent:>6}{r.results:>8}{r.skipped:>8}{r.errors:>7}{r.late_sends:>6}"
            f"{masks:>10}{_median(r.rtt_ms):>12.1f}{_median(r.stages_ms.get('inference', [])):>10.1f}  {verdict}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transports", default="tcp,unix,serial", help="comma-separated: tcp, unix, serial")
    p.add_argument("--frames", type=int, default=30, help="frames per transport")
    p.add_argument("--fps", type=float, default=25.0, help="the scanner's frame rate (0: as fast as possible)")
    p.add_argument("--format", choices=sorted(FORMATS), default=None, help="default: bgr8 on sockets, jpeg on serial")
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.transports.split(",") if k.strip()]
    unknown = set(kinds) - {"tcp", "unix", "serial"}
    if unknown:
        p.error(f"unknown transports: {', '.join(sorted(unknown))}")
    phantom = Phantom()
    print(f"rendering {args.frames} phantom frames ...", flush=True)
    frames = [phantom.frame(i).image for i in range(args.frames)]
    reports = []
    with tempfile.TemporaryDirectory(prefix="tlfseg-sim-") as tmp:
        for kind in kinds:
            fmt = args.format or ("jpeg" if kind == "serial" else "bgr8")
            print(f"streaming {args.frames} {fmt} frames at {args.fps:g} fps over {kind} ...", flush=True)
            reports.append(run_transport(kind, frames, args.fps, fmt, Path(tmp)))
    print(summary(reports))
    return 0 if all(r.ok and r.clean_exit for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
