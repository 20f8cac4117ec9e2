"""End-to-end bridge sessions with the bundled model over TCP, a Unix socket and a pseudo-terminal.

Every RESULT's mask must equal what `tlfseg predict`'s pipeline makes of the same frame, every frame id
must come back exactly once (a RESULT, a skip list or an ERROR), and bad input must get its ERROR while
the server goes on serving.
"""

from __future__ import annotations

import contextlib
import math
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.core.engine import Engine
from edge.core.roi import Box, detect_bmode_roi
from edge.live.phantom import Phantom
from edge.live.pipeline import FramePipeline, FrameResult
from edge.measurement.candidates import OperatorPrior
from edge.measurement.measure import Calibration, MeasureConfig, measure
from firmware_bridge.client import BridgeClient, BridgeError, result_mask
from firmware_bridge.frames import FrameLimits, frame_image, frame_message
from firmware_bridge.framing import pack, pack_header
from firmware_bridge.messages import (
    NAN,
    Bye,
    Config,
    Decoder,
    Error,
    Frame,
    Glide,
    Heartbeat,
    Hint,
    Result,
    StageLatency,
    encode,
)
from firmware_bridge.protocol import (
    NO_ID,
    ByeReason,
    ErrorCode,
    GlideFlag,
    HelloFlag,
    MaskEncoding,
    MsgType,
    PixelFormat,
    Quality,
    Role,
)
from firmware_bridge.results import assemble_glide, assemble_result
from firmware_bridge.runtime import BridgeRuntime, SessionLimits
from firmware_bridge.server import BridgeServer
from firmware_bridge.testing.pty import open_pty_pair
from firmware_bridge.testing.vectors import MESSAGES, later_layout
from firmware_bridge.transport import Endpoint, Listener, SocketLink

N_FRAMES = 8


@pytest.fixture(scope="module")
def frames(phantom) -> list[np.ndarray]:
    return [phantom.frame(i).image for i in range(N_FRAMES)]


@pytest.fixture(scope="module")
def reference(bundled_engine):
    """Labels as `tlfseg predict` makes them: a FramePipeline of its own (not the server's) on the image alone."""
    cache: dict = {}

    def segment(image: np.ndarray, roi: Box | None = None) -> FrameResult:
        key = (image.tobytes(), roi)
        if key not in cache:
            cache[key] = FramePipeline(bundled_engine, roi, video=False)(image)
        return cache[key]

    return segment


@contextlib.contextmanager
def serving(
    transport: str, max_clients: int = 4, runtime: BridgeRuntime | None = None, **limits
) -> Iterator[BridgeServer]:
    log: list[str] = []
    runtime = runtime or BridgeRuntime(Engine(), SessionLimits(**limits))
    server = BridgeServer(Endpoint.parse(transport), runtime, max_clients, log=log.append)
    server.log_lines = log
    thread = server.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop"


def sent_image(image: np.ndarray, fmt: PixelFormat | None) -> np.ndarray:
    """What the runtime sees of `image` sent as `fmt` (JPEG is lossy)."""
    return frame_image(frame_message(image, 0, fmt=fmt), FrameLimits())


def check_measurements(result: Result, frame_result: FrameResult, roi: Box | None) -> None:
    """The RESULT carries edge.measurement.measure's numbers for the segmentation (float32 on the wire)."""
    mm = 0.08 if roi is not None else None  # the calibration the test configures along with a fixed ROI
    m = measure(frame_result.labels, frame_result.roi, frame_result.grey, frame_result.probs, mm, MeasureConfig())
    want = {
        "thickness_px": m.thickness_px,
        "thickness_mm": m.thickness_mm,
        "coverage": m.coverage,
        "confidence": m.confidence,
        "echo_fascia": m.echo["fascia"],
        "echo_below": m.echo["below"],
    }
    for name, value in want.items():
        got = getattr(result, name)
        if value is None:
            assert math.isnan(got), name
        else:
            assert got == pytest.approx(value, rel=1e-6), name
    assert bool(result.quality & Quality.NO_FASCIA) == ("no_fascia" in m.flags)
    assert bool(result.quality & Quality.LOW_CONFIDENCE) == ("low_confidence" in m.flags)


def check_lockstep(client: BridgeClient, frames, reference, formats, roi: Box | None = None) -> list[Result]:
    """Send each frame, wait for its RESULT, compare the mask with the reference: the same frame through a pipeline of
    its own with the session's ROI (fixed, or detected on the session's first frame and tracked: one layout here)."""
    session_roi = roi or detect_bmode_roi(sent_image(frames[0], formats[0][0]))
    results = []
    for i, (fmt, mask) in enumerate(formats):
        image = frames[i % len(frames)]
        if fmt == PixelFormat.GREY8:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        client.send_frame(image, frame_id=100 + i, timestamp_us=5000 + i, fmt=fmt, mask=mask)
        result = client.expect(Result, timeout=30)
        assert (result.frame_id, result.timestamp_us, result.skipped) == (100 + i, 5000 + i, ())
        expected = reference(sent_image(image, fmt), session_roi)
        h, w = expected.labels.shape
        assert (result.mask_width, result.mask_height) == (w, h)
        assert result.roi == (expected.roi.x, expected.roi.y, expected.roi.w, expected.roi.h)
        np.testing.assert_array_equal(result_mask(result), expected.labels)
        check_measurements(result, expected, roi)
        results.append(result)
    return results


def test_tcp_session_results_match_predict(frames, reference):
    with serving("tcp://127.0.0.1:0") as server, BridgeClient.connect(server.endpoint) as client:
        hello = client.hello()
        assert hello.role == Role.RUNTIME and (hello.input_height, hello.input_width) == Engine().input_size
        assert hello.classes == ("above", "fascia", "below") and "int8" in hello.model
        beat, rtt_ms = client.heartbeat()
        assert beat.frames_received == 0 and rtt_ms < 5000
        formats = [
            (PixelFormat.BGR8, MaskEncoding.RLE),
            (PixelFormat.GREY8, MaskEncoding.PNG),
            (PixelFormat.JPEG, MaskEncoding.RLE),
            (PixelFormat.PNG, MaskEncoding.RLE),
        ]
        results = check_lockstep(client, frames, reference, formats)
        for r in results:
            assert r.quality & Quality.ROI_DETECTED and r.quality & Quality.NO_SCALE and math.isnan(r.thickness_mm)
            lat = r.latency
            assert lat.inference_us > 0 and lat.total_us >= lat.preprocess_us + lat.inference_us + lat.postprocess_us

        applied = client.configure(Config(roi=(120, 60, 300, 300), mm_per_px=0.08))
        assert applied.roi == (120, 60, 300, 300)
        (r,) = check_lockstep(client, frames, reference, [(PixelFormat.BGR8, MaskEncoding.RLE)], Box(120, 60, 300, 300))
        assert r.roi == (120, 60, 300, 300) and not r.quality & Quality.ROI_DETECTED

        client.send_frame(frames[0], frame_id=7)  # no mask asked for
        bare = client.expect(Result, timeout=30)
        assert bare.mask_encoding == MaskEncoding.NONE and bare.mask == b"" and result_mask(bare) is None
        beat, _ = client.heartbeat()
        assert (beat.frames_received, beat.results_sent, beat.errors) == (6, 6, 0)
        assert client.bye() == ByeReason.DONE
    assert server.runtime.counters.snapshot()["results_sent"] == 6


def test_unix_socket_flood_accounts_for_every_frame(frames, reference, tmp_path):
    """Frames sent as fast as the socket takes them: the newest wins, skipped ids are listed, none is lost."""
    path = tmp_path / "bridge.sock"
    with serving(f"unix:{path}") as server, BridgeClient.connect(f"unix:{path}") as client:
        client.hello()
        check_lockstep(client, frames, reference, [(PixelFormat.BGR8, MaskEncoding.RLE)])
        ids = list(range(1000, 1040))
        for fid in ids:
            client.send_frame(frames[fid % len(frames)], frame_id=fid, mask=MaskEncoding.RLE)
        assert client.bye() == ByeReason.DONE
        tally = client.tally
        processed = [fid for fid in tally.results if fid >= 1000]
        assert sorted(a for a in tally.answers if a >= 1000) == ids  # each id exactly once
        assert tally.skipped, "inference kept up with a flood; nothing was skipped"
        assert ids[-1] in processed  # the newest always wins
        for fid in processed:
            expected = reference(frames[fid % len(frames)]).labels
            np.testing.assert_array_equal(result_mask(tally.results[fid]), expected)
    counters = server.runtime.counters.snapshot()
    assert counters["frames_skipped"] == len(tally.skipped) and counters["frames_received"] == 41
    assert not path.exists()  # the socket file is removed on shutdown


def test_serial_over_a_pseudo_terminal(frames, reference):
    link, device = open_pty_pair()
    with serving(f"serial:{device},921600") as server:
        client = BridgeClient(link)
        try:
            assert client.hello(timeout=10).role == Role.RUNTIME
            formats = [(PixelFormat.JPEG, MaskEncoding.RLE), (PixelFormat.GREY8, MaskEncoding.PNG)]
            check_lockstep(client, frames, reference, formats)
            assert client.bye() == ByeReason.DONE
            # the line stays open: a scanner that reboots starts a new session on it
            client.hello(timeout=10)
            beat, _ = client.heartbeat()
            assert beat.frames_received == 0  # a fresh session
            # line noise between messages costs nothing
            link.send(b"\x00\xff\x13TLF garbage")
            check_lockstep(client, frames, reference, [(PixelFormat.JPEG, MaskEncoding.RLE)])
            server.shutdown()  # a stopping runtime says so
            assert client.expect(Bye, timeout=10).reason == ByeReason.SHUTDOWN
        finally:
            client.close()


def _raw_exchange(client: BridgeClient, data: bytes, until_frame: int, timeout: float = 30) -> list[Error]:
    """Send raw bytes, then a good frame; return the ERRORs that came before its RESULT."""
    client.link.send(data)
    client.send_frame(np.full((64, 64), 80, np.uint8), frame_id=until_frame)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = client.receive(deadline - time.monotonic())
        if event is not None and isinstance(event.msg, Result) and event.msg.frame_id == until_frame:
            return client.tally.errors
    raise AssertionError(f"no RESULT for frame {until_frame}")


def wait_error(client: BridgeClient, frame_id: int) -> Error:
    """Read until the ERROR answering `frame_id` arrives."""
    while True:
        found = [e for e in client.tally.errors if e.frame_id == frame_id]
        if found:
            return found[0]
        assert client.receive(30) is not None, f"no ERROR for frame {frame_id}"


def test_bad_input_gets_its_error_and_the_server_keeps_serving(frames):
    limits = {"max_payload": 1 << 20, "frame": FrameLimits(1024, 1024)}
    with serving("tcp://127.0.0.1:0", **limits) as server:
        with BridgeClient.connect(server.endpoint) as client:
            bad_crc = bytearray(encode(Heartbeat(1), 50))
            bad_crc[-1] ^= 0xFF
            corrupt_jpeg = frame_message(frames[0], 0, fmt=PixelFormat.JPEG)
            corrupt_jpeg = Frame(62, 0, PixelFormat.JPEG, 640, 480, 0, corrupt_jpeg.data[:700] + bytes(5000))
            stream = b"".join(
                [
                    b"line noise \x00\x01TLFB\x02",
                    bytes(bad_crc),
                    pack_header(MsgType.HEARTBEAT, 51, 24, version=9) + bytes(28),
                    pack(MsgType.FRAME, 52, bytes((1 << 20) + 100)),  # over the 1 MiB limit
                    pack(42, 53, b"?"),
                    pack(MsgType.BYE, 54, b"\x00"),
                    encode(Frame(60, 0, PixelFormat.GREY8, 100, 10, 50, bytes(500)), 55),  # stride < width
                    encode(Frame(61, 0, PixelFormat.GREY8, 2000, 1, 2000, bytes(2000)), 56),  # wider than allowed
                    encode(Config(mm_per_px=float("nan")), 58),
                    encode(Result(1), 59),
                ]
            )
            errors = _raw_exchange(client, stream, until_frame=63)
            got = {(e.code, e.ref_seq, e.frame_id) for e in errors}
            assert got == {
                (ErrorCode.BAD_CRC, 50, NO_ID),
                (ErrorCode.BAD_VERSION, 51, NO_ID),
                (ErrorCode.TOO_LARGE, 52, NO_ID),
                (ErrorCode.UNKNOWN_TYPE, 53, NO_ID),
                (ErrorCode.MALFORMED, 54, NO_ID),
                (ErrorCode.BAD_FRAME, 55, 60),
                (ErrorCode.BAD_FRAME, 56, 61),
                (ErrorCode.BAD_CONFIG, 58, NO_ID),
                (ErrorCode.UNEXPECTED, 59, NO_ID),
            }
            assert all(e.text for e in errors)
            # a JPEG whose header is fine and whose body is not: found when decoding, answered all the same
            client.link.send(encode(corrupt_jpeg, 57))
            error = wait_error(client, 62)
            assert (error.code, error.ref_seq) == (ErrorCode.BAD_FRAME, 57) and "does not decode" in error.text
            # an ROI that does not fit the frame: that frame gets BAD_FRAME, the next fitting one a RESULT
            client.configure(Config(roi=(0, 0, 900, 900)))
            client.send_frame(frames[0], frame_id=64)
            error = wait_error(client, 64)
            assert error.code == ErrorCode.BAD_FRAME and "outside" in error.text
            client.configure(Config())
            _raw_exchange(client, b"", until_frame=65)
            assert client.bye() == ByeReason.DONE

        # a client that vanishes in the middle of a frame
        half = encode(frame_message(frames[0], 70), 0)
        sock = socket.create_connection((server.endpoint.host, server.endpoint.port))
        sock.sendall(half[: len(half) // 2])
        sock.close()
        deadline = time.monotonic() + 10
        while server.runtime.counters.snapshot()["truncated_on_close"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.runtime.counters.snapshot()["truncated_on_close"] == 1
        assert any("closed in the middle of a message" in line for line in server.log_lines)

        with BridgeClient.connect(server.endpoint) as client:  # still serving
            client.hello()
            assert client.bye() == ByeReason.DONE


def test_silence_mid_message_busy_and_idle_clients():
    with serving("tcp://127.0.0.1:0", max_clients=1, idle_timeout=1.0, stall_timeout=0.2) as server:
        with BridgeClient.connect(server.endpoint) as first:
            wire = encode(Heartbeat(9), 80)
            first.link.send(wire[:30])  # then nothing: the line went quiet mid-message
            event = first.receive(5)
            assert isinstance(event.msg, Error) and (event.msg.code, event.msg.ref_seq) == (ErrorCode.TRUNCATED, 80)
            first.heartbeat()  # the session goes on

            with BridgeClient.connect(server.endpoint) as second:  # one client at a time
                event = second.receive(5)
                assert isinstance(event.msg, Error) and event.msg.code == ErrorCode.BUSY
                assert second.receive(2) is None  # and the connection is closed

            start = time.monotonic()
            assert first.expect(Bye, timeout=10).reason == ByeReason.IDLE
            assert time.monotonic() - start < 5
        assert server.runtime.counters.snapshot()["refused"] == 1


def test_links_report_a_closed_peer():
    a, b = socket.socketpair()
    link = SocketLink(a, "pair")
    b.sendall(b"xyz")
    assert link.recv(1.0) == b"xyz" and link.recv(0.05) is None
    b.close()
    assert link.recv(1.0) == b""
    link.close()


@pytest.mark.slow
def test_scanner_simulator_streams_to_tlfseg_bridge_serve_over_every_transport():
    """The issue's "done when": the simulator, against the real `tlfseg bridge serve` in child processes."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "scanner_simulator.py"
    run = subprocess.run(
        [sys.executable, str(script), "--frames", "6", "--fps", "30"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for kind in ("tcp", "unix", "serial"):
        assert re.search(rf"^{kind}\s.*\sok$", run.stdout, re.M), run.stdout


def test_every_measurement_flag_has_its_own_quality_bit():
    from firmware_bridge.results import quality_flags

    labels = np.full((40, 50), 0, np.uint8)
    labels[20:25] = 1
    labels[25:] = 2
    labels[5:7, :30] = 1  # a second band in 60 % of the columns
    m = measure(labels, Box.full(labels.shape), config=MeasureConfig(min_coverage=0.5))
    assert m.flags == ("fragmented",)
    quality = quality_flags(m, Config(roi=(0, 0, 50, 40)))
    assert quality == Quality.FRAGMENTED | Quality.NO_SCALE and not quality & Quality.OTHER
    assert quality & Quality.measurement_flags()  # not a good measurement for any firmware
    for flag, bit in (
        ("ambiguous", Quality.AMBIGUOUS),
        ("jump", Quality.JUMP),
        ("outside_range", Quality.OUTSIDE_RANGE),
    ):
        quality = quality_flags(replace(m, flags=(flag,)), Config(roi=(0, 0, 50, 40)))
        assert quality == bit | Quality.NO_SCALE and quality & Quality.measurement_flags(), flag
    # bit 10, past the bits 0-7 a version-1 firmware reads as measurement flags: OTHER comes with it
    quality = quality_flags(replace(m, flags=("unfamiliar",)), Config(roi=(0, 0, 50, 40)))
    assert quality == Quality.UNFAMILIAR | Quality.OTHER | Quality.NO_SCALE and Quality.UNFAMILIAR == 1 << 10
    assert quality & Quality.measurement_flags() and quality & 0xFF
    sent = Result(frame_id=3, quality=int(quality))
    (event,) = Decoder().feed(encode(sent, 1))
    assert Quality(event.msg.quality) == quality and Quality(event.msg.quality) & Quality.UNFAMILIAR
    quality = quality_flags(replace(m, flags=("jump", "unfamiliar")), Config(roi=(0, 0, 50, 40)))
    assert quality == Quality.JUMP | Quality.UNFAMILIAR | Quality.OTHER | Quality.NO_SCALE


def test_the_native_label_map_is_made_only_for_a_frame_that_asks_for_a_mask(bundled_engine):
    """A RESULT without a mask leaves the frame's native class map unmade (measuring needs only the band's rows);
    one with a mask carries the whole frame's map."""
    phantom = Phantom()
    pipeline = FramePipeline(bundled_engine, phantom.roi)
    config = Config(roi=(phantom.roi.x, phantom.roi.y, phantom.roi.w, phantom.roi.h))
    image = phantom.frame(1).image
    bare = pipeline(image)
    result = assemble_result(frame_message(image, 1, 0), bare, config, 0.0, 0.0)
    assert result.mask == b"" and (result.mask_width, result.mask_height) == (0, 0)
    assert "labels" not in bare.__dict__ and "roi_labels" not in bare.__dict__
    masked = pipeline(image)
    result = assemble_result(frame_message(image, 2, 0, mask=MaskEncoding.RLE), masked, config, 0.0, 0.0)
    assert (result.mask_height, result.mask_width) == image.shape[:2]
    np.testing.assert_array_equal(result_mask(result), masked.labels)


def test_every_gliding_flag_has_its_own_glide_bit():
    from edge.measurement.gliding import GlideStep, GlideTotals
    from firmware_bridge.results import glide_flags

    def step(*flags: str) -> GlideStep:
        return GlideStep({}, {}, {}, {}, None, flags, GlideTotals())

    names = ("no_previous", "roi_changed", "segmentation_flagged", "few_columns", "low_texture", "low_correlation")
    for name in (*names, "saturated"):
        assert glide_flags(step(name)) and not glide_flags(step(name)) & GlideFlag.OTHER, name
    assert glide_flags(step("saturated")) == GlideFlag.SATURATED == 1 << 6
    both = glide_flags(step("segmentation_flagged", "saturated"))
    assert both == GlideFlag.SEGMENTATION_FLAGGED | GlideFlag.SATURATED
    assert glide_flags(step("something_new")) == GlideFlag.OTHER
    glide = Glide(frame_id=4, flags=int(glide_flags(step("saturated"))), flagged=1)
    (event,) = Decoder().feed(encode(glide, 2))
    assert event.msg.flags == GlideFlag.SATURATED


def _read_all(sock: socket.socket, seconds: float) -> tuple[list, bool]:
    """What the runtime sends on a raw socket within `seconds` (bounded), and whether it closed the connection."""
    decoder, events, deadline = Decoder(), [], time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return events, True
        if not data:
            return events, True
        events += decoder.feed(data)
    return events, False


def test_slow_clients_are_closed_and_a_good_client_is_served():
    """Slowloris: two clients dribbling a large FRAME at ~20 B/s hold both slots only until the byte rate fails."""
    with serving("tcp://127.0.0.1:0", max_clients=2, stall_timeout=0.3, min_rate=2000.0) as server:
        address = (server.endpoint.host, server.endpoint.port)
        slow = [socket.create_connection(address) for _ in range(2)]
        start = time.monotonic()
        for sock in slow:
            sock.sendall(pack_header(MsgType.FRAME, 1, 200_000))  # announced, then 1 byte every 50 ms
        closed = set()
        while len(closed) < 2 and time.monotonic() - start < 5:
            for i, sock in enumerate(slow):
                with contextlib.suppress(OSError):
                    sock.sendall(b"\x00")
                sock.settimeout(0.025)
                with contextlib.suppress(TimeoutError, ConnectionResetError):
                    if not sock.recv(65536):
                        closed.add(i)
        assert closed == {0, 1} and time.monotonic() - start < 3
        assert server.runtime.counters.snapshot()["too_slow"] == 2
        with BridgeClient.connect(server.endpoint) as good:
            assert good.hello().role == Role.RUNTIME
        for sock in slow:
            sock.close()


def test_a_new_client_evicts_the_longest_stalled_session():
    with serving("tcp://127.0.0.1:0", max_clients=1, evict_after=0.3) as server:
        stalled = socket.create_connection((server.endpoint.host, server.endpoint.port))
        stalled.sendall(b"TLF")  # connected, a few bytes, then nothing useful
        time.sleep(0.5)
        with BridgeClient.connect(server.endpoint) as newcomer:
            assert newcomer.hello().role == Role.RUNTIME
            events, closed = _read_all(stalled, 2)
            assert closed and [(e.msg.code, "new client is waiting" in e.msg.text) for e in events] == [
                (ErrorCode.BUSY, True)
            ]
            with BridgeClient.connect(server.endpoint) as third:  # the newcomer is not stalled: BUSY for this one
                assert third.expect(Error, timeout=5).code == ErrorCode.BUSY
        stalled.close()
        counts = server.runtime.counters.snapshot()
        assert (counts["evicted"], counts["refused"]) == (1, 1)


def test_fault_errors_are_rate_limited_per_connection():
    """Version-2 headers are not reflected at several times their bytes: ERRORs over the rate counted, then named."""
    with serving("tcp://127.0.0.1:0", error_burst=8, error_rate=4.0) as server:
        sock = socket.create_connection((server.endpoint.host, server.endpoint.port))
        flood = b"".join(pack_header(MsgType.HEARTBEAT, i, 0, version=2) + bytes(4) for i in range(500))
        sock.sendall(flood)
        events, _ = _read_all(sock, 0.6)
        sent_back = sum(len(encode(e.msg, 0)) for e in events)
        assert 8 <= len(events) <= 8 + 4 and all(e.msg.code == ErrorCode.BAD_VERSION for e in events)
        assert sent_back < len(flood) / 20  # without the limit: ~3x len(flood)
        sock.sendall(pack_header(MsgType.HEARTBEAT, 999, 0, version=2) + bytes(4))
        (later,), _ = _read_all(sock, 0.5)
        assert later.msg.ref_seq == 999 and "more errors not sent" in later.msg.text
        sock.close()
        assert server.runtime.counters.snapshot()["errors_suppressed"] >= 480


def test_a_frame_too_small_for_the_model_is_bad_frame():
    with serving("tcp://127.0.0.1:0") as server, BridgeClient.connect(server.endpoint) as client:
        client.send_frame(np.full((1, 1), 128, np.uint8), frame_id=5)
        error = wait_error(client, 5)
        assert error.code == ErrorCode.BAD_FRAME and "1x1 is too small: at least 8x8" in error.text
        client.send_frame(np.full((8, 8), 128, np.uint8), frame_id=6)  # the smallest accepted is answered
        assert client.expect(Result, timeout=30).frame_id == 6


class _BuggyRuntime(BridgeRuntime):
    """Its pipelines fail with a plain ValueError (a bug, not the frame's fault) on frames whose first pixel is 1."""

    def pipeline(self, *args, **kwargs):
        real = super().pipeline(*args, **kwargs)

        def segment(image: np.ndarray) -> FrameResult:
            if image[0, 0] == 1:
                raise ValueError("operands could not be broadcast together")
            return real(image)

        return segment


def test_a_bug_in_the_pipeline_is_internal_not_bad_frame_and_the_session_goes_on():
    """Only `FrameRejected` is the frame's fault: a plain ValueError from the pipeline gets ERROR INTERNAL, is logged
    with its traceback once, and the session serves the next frame."""
    with (
        serving("tcp://127.0.0.1:0", runtime=_BuggyRuntime(Engine())) as server,
        BridgeClient.connect(server.endpoint) as client,
    ):
        for frame_id in (1, 3):
            client.send_frame(np.full((64, 64), 1, np.uint8), frame_id=frame_id)
            error = wait_error(client, frame_id)
            assert error.code == ErrorCode.INTERNAL
            assert error.text == "ValueError: operands could not be broadcast together"
            client.send_frame(np.full((64, 64), 80, np.uint8), frame_id=frame_id + 1)
            assert client.expect(Result, timeout=30).frame_id == frame_id + 1
        assert client.bye() == ByeReason.DONE
    traces = [line for line in server.log_lines if "Traceback (most recent call last)" in line]
    assert len(traces) == 1 and "frame 1 failed" in traces[0] and "in segment" in traces[0]
    assert any("frame 3 failed again" in line for line in server.log_lines)


def test_an_unfamiliar_frame_is_flagged_on_the_wire_and_a_broken_reference_stops_the_start(frames, tmp_path):
    """A frame far from the bundled model's training images (gain turned far up: the band clipped to white) comes back
    with UNFAMILIAR and OTHER (so version-1 firmware reads it as not good); the frame before it, ordinary, without."""
    saturated = cv2.convertScaleAbs(frames[0], alpha=3.0)
    with serving("tcp://127.0.0.1:0") as server, BridgeClient.connect(server.endpoint) as client:
        assert server.runtime.reference is not None
        client.send_frame(frames[0], frame_id=1)
        ordinary = client.expect(Result, timeout=30)
        client.send_frame(saturated, frame_id=2)
        flagged = client.expect(Result, timeout=30)
    assert not ordinary.quality & (Quality.UNFAMILIAR | Quality.OTHER)
    assert flagged.frame_id == 2 and flagged.quality & Quality.UNFAMILIAR and flagged.quality & Quality.OTHER
    model = tmp_path / "model.tflite"
    model.write_bytes(Engine().model_path.read_bytes())
    (tmp_path / "input_reference.json").write_text("{not json")
    with pytest.raises(ValueError, match="input_reference.json: not an input reference"):
        BridgeRuntime(Engine(model))


def test_unix_transport_never_removes_a_regular_file(tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_text("precious")
    with pytest.raises(OSError, match="exists and is not a socket"):
        Listener(Endpoint.parse(f"unix:{path}"))
    assert path.read_text() == "precious"
    stale = tmp_path / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(stale))
    dead.close()  # a socket file nobody listens on: replaced
    listener = Listener(Endpoint.parse(f"unix:{stale}"))
    listener.close()


def test_unix_transport_removes_only_the_socket_it_made(tmp_path):
    """Issue 25: at shutdown `unix:PATH` unlinked whatever was at PATH: a regular file put there while serving, or the
    live socket of a second runtime that had taken the path over. Only the socket this listener bound goes."""
    path = tmp_path / "bridge.sock"
    first = Listener(Endpoint.parse(f"unix:{path}"))
    path.unlink()
    path.write_text("precious")  # put there while serving
    first.close()
    assert path.read_text() == "precious"
    path.unlink()
    first = Listener(Endpoint.parse(f"unix:{path}"))
    path.unlink()  # a second runtime takes the path over
    second = Listener(Endpoint.parse(f"unix:{path}"))
    first.close()
    assert path.is_socket()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(path))  # the second runtime's socket still answers
    second.close()
    assert not path.exists()  # and its own socket is removed at its shutdown


def test_a_gliding_session_over_tcp_carries_the_pipelines_gliding_figures(bundled_engine):
    """A scanner that asks for the gliding extension gets, after each RESULT, a GLIDE equal (float32) to what an
    in-process FramePipeline with gliding on makes of the same frames; one that does not ask gets none."""
    phantom = Phantom(glide=1.0, persistence=0.95)
    images = [phantom.frame(i).image for i in range(6)]
    roi, mm = phantom.roi, float(np.float32(0.08))  # the calibration as the CONFIG carries it: float32
    reference = FramePipeline(bundled_engine, roi, calibration=Calibration(mm), gliding=True)
    want = [assemble_glide(200 + i, reference(im).gliding) for i, im in enumerate(images)]
    with serving("tcp://127.0.0.1:0") as server:
        with BridgeClient.connect(server.endpoint) as plain:
            plain.hello()
            assert plain.extensions == HelloFlag(0)
            plain.send_frame(images[0], frame_id=1)
            plain.expect(Result, timeout=30)
            assert plain.bye() == ByeReason.DONE and plain.tally.glides == {}
        with BridgeClient.connect(server.endpoint) as client:
            client.hello(gliding=True)
            assert client.extensions == HelloFlag.GLIDE
            client.configure(Config(roi=(roi.x, roi.y, roi.w, roi.h), mm_per_px=mm))
            for i, image in enumerate(images):
                client.send_frame(image, frame_id=200 + i)
                assert client.expect(Result, timeout=30).frame_id == 200 + i
                glide = client.expect(Glide, timeout=30)
                assert glide.frame_id == 200 + i and glide.payload() == want[i].payload()
            client.send(Glide(1))  # a GLIDE goes from the runtime to the scanner only
            assert client.expect(Error).code == ErrorCode.UNEXPECTED
            assert client.bye() == ByeReason.DONE
    first, last = want[0], want[-1]
    assert first.flags == GlideFlag.NO_PREVIOUS and math.isnan(first.relative_px[0])
    assert last.flags == 0 and last.pairs >= 4 and last.shear_px[0] > 0
    assert last.shear_mm[0] == pytest.approx(last.shear_px[0] * mm, rel=1e-6) and math.isnan(last.cycle_shear_px[0])


def test_a_hint_session_over_tcp_applies_the_operators_depth_prior(bundled_engine):
    """A scanner granted the hint extension sets the fascia's expected depth range or a hint depth: its RESULTs equal
    (float32) what an in-process FramePipeline with the same OperatorPrior makes of the same frames. A range without
    the band flags OUTSIDE_RANGE; a hint deeper in a thick band never measures it higher up; without a
    calibration, or with values out of range, BAD_CONFIG and the previous prior stays; a CONFIG keeps the prior."""
    phantom = Phantom(thickness_px=30)  # its laminae are two band candidates in most columns
    images = [phantom.frame(i).image for i in range(3)]
    roi, mm = phantom.roi, float(np.float32(0.08))  # the calibration as the CONFIG carries it: float32
    config = Config(roi=(roi.x, roi.y, roi.w, roi.h), mm_per_px=mm)

    def answer(result: Result) -> bytes:
        return replace(result, timestamp_us=0, latency=StageLatency(), skipped=()).payload()

    def expected(prior: OperatorPrior, first_id: int) -> list[bytes]:
        """The answers of a fresh pipeline (each HINT starts one) with `prior`, latencies aside."""
        pipeline = FramePipeline(bundled_engine, roi, calibration=Calibration(mm), prior=prior)
        frames = [frame_message(im, first_id + i, 0, mask=MaskEncoding.RLE) for i, im in enumerate(images)]
        return [answer(assemble_result(f, pipeline(im), config, 0.0, 0.0)) for f, im in zip(frames, images)]

    def stream(client: BridgeClient, first_id: int, count: int = len(images)) -> list[Result]:
        results = []
        for i, image in enumerate(images[:count]):
            client.send_frame(image, frame_id=first_id + i, timestamp_us=0, mask=MaskEncoding.RLE)
            results.append(client.expect(Result, timeout=30))
        return results

    def fascia_row(result: Result) -> float:
        """The mean frame row of the fascia pixels in the RESULT's mask."""
        return float(np.nonzero(result_mask(result) == 1)[0].mean())

    def refused(code: ErrorCode, send: Callable[[], object]) -> str:
        with pytest.raises(BridgeError, match=code.name):
            send()
        return client.tally.errors[-1].text

    with serving("tcp://127.0.0.1:0") as server, BridgeClient.connect(server.endpoint) as client:
        client.hello(hints=True)
        assert client.extensions == HelloFlag.HINT
        assert "calibration" in refused(ErrorCode.BAD_CONFIG, lambda: client.hint(hint_mm=2.5))  # no CONFIG yet
        client.configure(config)
        assert client.hint(range_mm=(20.0, 30.0)).payload() == Hint((20.0, 30.0)).payload()  # echoed as applied
        outside = stream(client, 10)  # the band lies 2-5 mm deep
        assert all(r.quality & Quality.OUTSIDE_RANGE for r in outside)
        assert [answer(r) for r in outside] == expected(OperatorPrior(range_mm=(20.0, 30.0)), 10)

        for bad in ({"range_mm": (8.0, 2.0)}, {"range_mm": (2.0, NAN)}, {"hint_mm": -1.0}, {"hint_mm": math.inf}):
            refused(ErrorCode.BAD_CONFIG, partial(client.hint, **bad))
        assert "calibration" in refused(ErrorCode.BAD_CONFIG, lambda: client.configure(Config(roi=config.roi)))
        client.configure(replace(config, mm_per_px=0.0, depth_mm=mm * roi.h))  # another calibration: prior kept
        assert stream(client, 15, count=1)[0].quality & Quality.OUTSIDE_RANGE  # the range still applies

        client.configure(config)
        hinted = {}
        for first_id, depth in ((20, 2.5), (30, 5.0)):  # near the upper lamina, near the lower one
            assert client.hint(hint_mm=depth).hint_mm == depth
            got = [answer(r) for r in stream(client, first_id)]
            assert got == expected(OperatorPrior(hint_mm=depth), first_id)
            hinted[depth] = [fascia_row(Result.parse(a)) for a in got]
        # the deeper hint never moves the band up: which candidates a thick band offers is the model's (the bundled
        # model of 2026-12-03b sees this one as a single band; the one before split it into its two laminae)
        assert all(upper <= lower + 0.5 for upper, lower in zip(hinted[2.5], hinted[5.0])), hinted

        cleared = client.hint()  # NaN everywhere: no prior, and a CONFIG without calibration is accepted again
        assert all(math.isnan(v) for v in (*cleared.range_mm, cleared.hint_mm))
        client.configure(Config(roi=config.roi))
        client.configure(config)
        client.hint(hint_mm=5.0)
        client.hello()  # the scanner starts again without the extension: the prior goes with it
        assert client.extensions == HelloFlag(0)
        client.configure(Config(roi=config.roi))
        assert "hint extension" in refused(ErrorCode.UNEXPECTED, lambda: client.hint(hint_mm=5.0))
        assert client.bye() == ByeReason.DONE
    assert any("depth prior from HINT" in line for line in server.log_lines)


def test_malformed_and_truncated_hints_are_errors_and_the_session_goes_on():
    """HINT payloads too short, too long or of layout 0 are MALFORMED; a HINT cut short is BAD_CRC (the next message
    began after its span) or TRUNCATED (the line went quiet); the session goes on and a good HINT is still applied."""
    good = Hint(hint_mm=3.0).payload()
    with serving("tcp://127.0.0.1:0", stall_timeout=0.3) as server, BridgeClient.connect(server.endpoint) as client:
        client.hello(hints=True)
        client.configure(Config(mm_per_px=0.1))
        stream = b"".join(
            [
                pack(MsgType.HINT, 40, good[:-1]),
                pack(MsgType.HINT, 41, good + b"\x00"),
                pack(MsgType.HINT, 42, b""),
                pack(MsgType.HINT, 43, Hint(hint_mm=3.0, version=0).payload()),
                pack(MsgType.HINT, 44, Hint(version=2).payload()[:13]),  # a later layout without all of version 1's
                encode(Hint(hint_mm=3.0), 45)[:30],  # cut short: the frame that follows ends its span
            ]
        )
        errors = _raw_exchange(client, stream, until_frame=46)
        malformed = [(ErrorCode.MALFORMED, seq, NO_ID) for seq in range(40, 45)]
        assert [(e.code, e.ref_seq, e.frame_id) for e in errors] == [*malformed, (ErrorCode.BAD_CRC, 45, NO_ID)]
        assert all("HINT" in e.text for e in errors[:5])
        client.link.send(encode(Hint(hint_mm=3.0), 47)[:30])  # then nothing
        event = client.receive(5)
        assert isinstance(event.msg, Error) and (event.msg.code, event.msg.ref_seq) == (ErrorCode.TRUNCATED, 47)
        assert client.hint(hint_mm=3.0).hint_mm == 3.0
        errors_before = len(client.tally.errors)
        client.link.send(later_layout("hint_v2"))  # a later layout: its version-1 fields applied, echoed as version 1
        echo = client.expect(Hint)
        assert echo.payload() == MESSAGES["hint"][0].payload() and len(client.tally.errors) == errors_before
        assert client.bye() == ByeReason.DONE


class _Pest(threading.Thread):
    """A raw client sending `chunk` every `period` s until stopped (bounded: `seconds` at most)."""

    def __init__(self, address, chunk: bytes, period: float, seconds: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(address)
        self.chunk, self.period, self.deadline = chunk, period, time.monotonic() + seconds
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while not self.done.wait(self.period) and time.monotonic() < self.deadline:
                self.sock.sendall(self.chunk)

    def close(self) -> None:
        self.done.set()
        self.join(2)
        self.sock.close()


def _admitted(endpoint: Endpoint) -> bool:
    """Whether a new client gets a HELLO (True) or ERROR BUSY (False)."""
    with BridgeClient.connect(endpoint) as client:
        try:
            return client.hello(timeout=3).role == Role.RUNTIME
        except (BridgeError, OSError):
            return False


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param(pack_header(MsgType.HEARTBEAT, 1, 0, version=2) + bytes(4), id="faults"),
        pytest.param(encode(Heartbeat(1), 1), id="heartbeats"),
    ],
)
def test_sessions_that_send_no_frame_make_way_for_a_new_client(chunk):
    """Issue 25: clients sending only faults (a version-2 header) or only HEARTBEATs, faster than `evict_after`, held
    every slot and a scanner got BUSY every time. A fault is no complete message, and a session without a FRAME for
    `evict_after` makes way when every slot is taken (HEARTBEATs keep a session open, not its slot)."""
    with serving("tcp://127.0.0.1:0", max_clients=2, evict_after=0.5) as server:
        address = (server.endpoint.host, server.endpoint.port)
        pests = [_Pest(address, chunk, 0.15) for _ in range(2)]
        try:
            time.sleep(0.8)
            assert _admitted(server.endpoint)
            assert server.runtime.counters.snapshot()["evicted"] == 1
        finally:
            for pest in pests:
                pest.close()


def test_a_scanner_streaming_frames_keeps_its_slot():
    """The decision's other side: a session that sends FRAMEs is never evicted; the newcomer is told BUSY."""
    with serving("tcp://127.0.0.1:0", max_clients=1, evict_after=0.3) as server:
        address = (server.endpoint.host, server.endpoint.port)
        frame = encode(Frame(1, 0, PixelFormat.GREY8, 16, 16, 16, bytes(256)), 1)
        scanner = _Pest(address, frame, 0.1)
        try:
            time.sleep(0.6)
            assert not _admitted(server.endpoint)
            assert server.runtime.counters.snapshot()["evicted"] == 0
        finally:
            scanner.close()


def test_a_config_calibration_is_bounded_to_what_a_scanner_can_be(bundled_engine):
    """Issue 25: the bridge took any spacing or depth up to 1000; now the live runtime's bounds (edge.core.values)."""
    runtime = BridgeRuntime(bundled_engine)
    for config in (Config(mm_per_px=999.0), Config(mm_per_px=1e-5), Config(depth_mm=1e19), Config(depth_mm=0.5)):
        with pytest.raises(ValueError, match=r"\(0: not given\) must be a finite number in \["):
            runtime.check_config(config)
    runtime.check_config(Config(mm_per_px=0.08))
    runtime.check_config(Config(depth_mm=40.0))
