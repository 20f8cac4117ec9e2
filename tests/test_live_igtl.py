"""The OpenIGTLink source on loopback: a real pyigtl server sends IMAGE messages to `tlfseg run --source igtl://`."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from igtl_wire import WireClient
from net_support import free_port, listening

from edge.core.labels import CLASS_COLOURS_BGR
from edge.live.session import Session
from edge.live.sinks import read_log
from edge.live.sinks.igtl import LABELS_DEVICE, MEASUREMENT_DEVICE, IGTLSink, parse_host_port
from edge.live.sources import BadFrame, FrameReader, SourceError, open_capture
from edge.live.sources.igtl import IGTLCapture, check_image_head, parse_igtl_url, to_bgr
from edge.tools.cli import main

pyigtl = pytest.importorskip("pyigtl")


class Streamer:
    """A pyigtl server sending `picture` (as RGB, like PLUS) every `period` s until stopped, the n-th IMAGE stamped
    with the source time `times[n]` (a day ago plus n times 40 ms: no clock of this machine's)."""

    def __init__(
        self, port: int, picture: np.ndarray, device: str = "Image", period: float = 0.02, matrix=None
    ) -> None:
        self.server = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
        self.rgb = np.ascontiguousarray(picture[..., ::-1])[None]
        self.device, self.period, self.sent, self.matrix = device, period, 0, matrix
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if self.server.is_connected():
                self.times.append(round(time.time() - 86400, 3) + 0.04 * self.sent)
                image = pyigtl.ImageMessage(
                    self.rgb, ijk_to_world_matrix=self.matrix, timestamp=self.times[-1], device_name=self.device
                )
                self.server.send_message(image, wait=False)
                self.sent += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.server.stop()


class Collector:
    """A pyigtl client of `tlfseg run --igtl-out` that connects once the run has logged `after` frames (late)."""

    def __init__(self, port: int, log, after: int = 3) -> None:
        self.port, self.log, self.after = port, log, after
        self.labels, self.texts, self.client = [], [], None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            if self.log.is_file() and self.log.read_text().count('"seq"') >= self.after:
                break
        self.client = pyigtl.OpenIGTLinkClient("127.0.0.1", self.port)
        while not self._stop.wait(0.005):
            for m in self.client.get_latest_messages():
                (self.labels if m.device_name == LABELS_DEVICE else self.texts).append(m)

    def stop(self) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(2)
        if self.client is not None:
            self.client.stop()

    def sent(self) -> list[dict]:
        return [json.loads(m.string) for m in self.texts]


def relay(port: int, out_port: int, folder, frames: int, *parts) -> None:
    """`tlfseg run` of `frames` frames from the OpenIGTLink server on `port` to `--igtl-out` on `out_port`, recorded
    in `folder`; `parts` (clients, streamers) stopped however it ends."""
    argv = ["run", "--source", f"igtl://127.0.0.1:{port}/Image", "--frames", str(frames), "--no-display"]
    try:
        assert main([*argv, "--status-every", "0", "--record", str(folder), "--igtl-out", f"127.0.0.1:{out_port}"]) == 0
    finally:
        for part in parts:
            part.stop()


MEASURED = {"thickness_px", "thickness_mm", "echo", "coverage", "confidence", "flags", "good"}


def as_logged(sent: dict, frames: dict[int, dict]) -> bool:
    """A measurement message carries the measurements of its frame (`seq`) exactly as the recording logged them."""
    logged = frames[sent["seq"]]
    measured = sent.keys() - {"seq", "time", "source_time"}
    return measured >= MEASURED and all(sent[k] == logged[k] for k in measured)


@pytest.fixture(params=["phantom", pytest.param("real", marks=pytest.mark.realdata)])
def picture(request, phantom) -> np.ndarray:
    """A B-mode screen capture: the phantom's, and the first image of the real data set (skipped where absent)."""
    if request.param == "phantom":
        return phantom.frame(3).image
    real = request.getfixturevalue("real_data_dir")
    return cv2.imread(str(sorted((real / "images").glob("*.png"))[0]))


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """pyigtl's server installs SIGINT / SIGTERM handlers; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_url_and_pictures():
    assert parse_igtl_url("igtl://127.0.0.1:18944/Image_Reference") == ("127.0.0.1", 18944, "Image_Reference")
    assert parse_igtl_url("igtl://scanner") == ("scanner", 18944, None)
    with pytest.raises(SourceError):
        parse_igtl_url("igtl://:5")
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(1, 2, 3, 3)
    assert (to_bgr(rgb) == rgb[0, ..., ::-1]).all() and to_bgr(rgb).shape == (2, 3, 3)
    grey = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    assert (to_bgr(grey) == grey[0]).all()
    assert isinstance(open_capture("igtl://127.0.0.1:1/x"), IGTLCapture)


def image_head(i: int, j: int, k: int = 1, components: int = 3, scalar: int = 3) -> bytes:
    """An IMAGE body's own 72-byte header (version 1), identity matrix."""
    matrix = (1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)
    return struct.pack(">HBBBBHHH12f6H", 1, components, scalar, 2, 2, i, j, k, *matrix, 0, 0, 0, i, j, k)


@pytest.mark.parametrize(
    ("head", "voxels", "reason", "why"),
    [
        (image_head(640, 480, scalar=5), 640 * 480 * 6, "bad_format", "scalar type 5, expected 8-bit"),
        (image_head(640, 480, k=3), 640 * 480 * 9, "bad_format", "volume of 3 slices"),
        (image_head(640, 480, components=2), 640 * 480 * 2, "bad_format", "2 components"),
        (image_head(8192, 8192, components=1), 8192 * 8192, "too_large", "8192x8192 is larger than any capture"),
        (image_head(640, 480), 1000, "bad_format", "announces more voxels than its 1000 bytes"),
    ],
)
def test_an_image_the_runtime_cannot_take_is_refused_by_its_header(head, voxels, reason, why):
    with pytest.raises(BadFrame, match=why) as refused:
        check_image_head(head, voxels)
    assert refused.value.reason == reason
    check_image_head(image_head(640, 480), 640 * 480 * 3)


def test_no_server_is_a_clear_error():
    with pytest.raises(SourceError, match="no OpenIGTLink server"):
        IGTLCapture(f"igtl://127.0.0.1:{free_port()}", connect_s=0.2).open()


def test_a_stream_from_an_igtl_server_comes_back_segmented_and_measured(tmp_path, picture):
    """PLUS -> tlfseg -> Slicer on loopback: the label map on the input's grid, equal to the in-process result."""
    from edge.live.pipeline import FramePipeline

    matrix = np.array([[0.2, 0, 0, -30.0], [0, 0.2, 0, 5.0], [0, 0, 1.0, 0], [0, 0, 0, 1]])  # PLUS: 0.2 mm a pixel
    port, out_port = free_port(), free_port()
    streamer = Streamer(port, picture, matrix=matrix)
    folder = tmp_path / "rec"
    collector = Collector(out_port, folder / "frames.jsonl")
    relay(port, out_port, folder, 12, collector, streamer)
    frames, events, _ = read_log(folder / "frames.jsonl")
    summary = json.loads((folder / "summary.json").read_text())
    assert len(frames) == 12 and summary["frames"]["processed"] == 12 and streamer.sent >= 12
    assert "OpenIGTLink IMAGE" in events[0]["detail"]
    expected = FramePipeline()(picture)
    assert {f["thickness_px"] for f in frames} == {round(expected.measurement.thickness_px, 3)}
    assert collector.labels and collector.texts
    by_seq = {f["seq"]: f for f in frames}
    assert all(as_logged(m, by_seq) for m in collector.sent())
    last = collector.labels[-1]
    assert last.image.shape == (1, *picture.shape[:2]) and (last.image[0] == expected.labels).all()
    assert np.allclose(last.ijk_to_world_matrix, matrix, atol=1e-5) and last.world_coordinate_system == "lps"


@pytest.mark.parametrize("given", [None, 0.2, 0.1])
def test_the_images_pixel_spacing_is_the_scale_where_none_is_given(tmp_path, phantom, capsys, given):
    """Issue 25: the IMAGE's spacing was ignored: a 0.1 mm/px stream reported "calibration: none"; with --mm-per-px
    0.2 nothing warned while the label map went back at 0.1 mm. Now the frames' own spacing is the scale where none is
    given (said in the start lines), and a calibration that differs from it is one event (the given one is used)."""
    matrix = np.array([[0.1, 0, 0, 0], [0, 0.1, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1]])
    port, folder = free_port(), tmp_path / "rec"
    streamer = Streamer(port, phantom.frame(3).image, matrix=matrix)
    argv = ["run", "--source", f"igtl://127.0.0.1:{port}/Image", "--frames", "4", "--no-display", "--status-every"]
    argv += ["0", "--record", str(folder), *(["--mm-per-px", str(given)] if given else [])]
    try:
        assert main(argv) == 0
    finally:
        streamer.stop()
    out = capsys.readouterr().out
    frames, _, _ = read_log(folder / "frames.jsonl")
    summary = json.loads((folder / "summary.json").read_text())
    scale = given or 0.1
    measured = [f for f in frames if f["thickness_px"] is not None]
    assert measured and all(f["thickness_mm"] == pytest.approx(f["thickness_px"] * scale, abs=1e-3) for f in measured)
    assert summary["thickness"]["unit"] == "mm"
    assert ("calibration: each frame's own pixel spacing" in out) == (given is None)
    warned = [e["detail"] for e in summary["events"] if e["kind"] == "calibration"]
    if given == 0.2:
        assert warned == [
            f"the calibration's 0.2 mm/px differs from the 0.1 mm/px of igtl://127.0.0.1:{port}/Image's frames: "
            "thickness in mm uses the calibration given (leave it out to use the frames' own)"
        ]
    else:
        assert warned == []


def test_a_spacing_no_scanner_has_or_pixels_not_square_is_no_scale():
    from edge.live.sources import Geometry

    square = Geometry(np.diag([0.1, 0.1, 1.0, 1.0]))
    rotated = Geometry(np.array([[0, -0.3, 0, 0], [0.3, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    assert square.mm_per_px == pytest.approx(0.1) and rotated.mm_per_px == pytest.approx(0.3)
    for spacing in ([0.1, 0.2], [1e308, 1e308], [0.0, 0.0], [np.inf, np.inf], [6.0, 6.0]):
        assert Geometry(np.diag([*spacing, 1.0, 1.0])).mm_per_px is None, spacing


def test_server_that_vanishes_is_lost_and_reconnected(phantom):
    port = free_port()
    streamer = Streamer(port, phantom.frame(0).image)
    reader = FrameReader(
        IGTLCapture(f"igtl://127.0.0.1:{port}/Image", stall_s=0.3, connect_s=0.2), backoff_s=(0.05, 0.2)
    )
    try:
        reader.start()
        assert reader.get(2.0) is not None
        streamer.stop()
        time.sleep(1.0)
        kinds = [e.kind for e in reader.take_events()]
        assert "lost" in kinds and "reopened" not in kinds
        streamer = Streamer(port, phantom.frame(1).image)
        deadline = time.monotonic() + 5
        while "reopened" not in kinds and time.monotonic() < deadline:
            time.sleep(0.05)
            kinds += [e.kind for e in reader.take_events()]
        assert "reopened" in kinds
        got = reader.get(2.0)
        assert got is not None and got.image.shape == phantom.frame(1).image.shape
    finally:
        reader.stop()
        streamer.stop()


def test_a_run_whose_server_is_gone_keeps_announcing_its_reconnect_attempts(tmp_path, phantom, monkeypatch, capsys):
    """Issue 25: `--frames N` counts processed frames; with the server gone the run printed "source lost / reopened /
    lost" and then nothing for 50 s until killed. A live source is retried for ever (as a capture device), and now
    says so every `RETRY_NOTICE_S` (10 s; 0.5 here) with its attempts and the reason, until the user ends the run."""
    monkeypatch.setattr("edge.live.sources.reader.RETRY_NOTICE_S", 0.5)
    port, folder = free_port(), tmp_path / "rec"
    streamer = Streamer(port, phantom.frame(0).image, period=0.05)

    def gone_then_interrupt() -> None:
        log = folder / "frames.jsonl"
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().count('"seq"') >= 3) and time.monotonic() < deadline:
            time.sleep(0.05)
        streamer.stop()
        time.sleep(5.0)
        os.kill(os.getpid(), signal.SIGTERM)  # the run's handler: ends it as Ctrl-C does

    thread = threading.Thread(target=gone_then_interrupt, daemon=True)
    thread.start()
    argv = ["run", "--source", f"igtl://127.0.0.1:{port}/Image", "--frames", "100000", "--no-display"]
    try:
        code = main([*argv, "--status-every", "1", "--record", str(folder)])
    finally:
        thread.join(10)
        streamer.stop()
    out = capsys.readouterr().out
    retrying = [line for line in out.splitlines() if "source retrying:" in line]
    assert code == 130 and "source lost:" in out
    assert len(retrying) >= 2 and all(f"no OpenIGTLink server at 127.0.0.1:{port}" in r for r in retrying), out
    summary = json.loads((folder / "summary.json").read_text())
    assert sum(e["kind"] == "retrying" for e in summary["events"]) == len(retrying)


def test_a_late_client_gets_label_maps_and_measurements_from_then_on(tmp_path):
    port = free_port()
    folder = tmp_path / "rec"
    collector = Collector(port, folder / "frames.jsonl", after=5)
    argv = ["run", "--source", "demo", "--frames", "25", "--no-display", "--status-every", "0", "--mm-per-px", "0.1"]
    try:
        assert main([*argv, "--igtl-out", f"127.0.0.1:{port}", "--record", str(folder)]) == 0
    finally:
        collector.stop()
    assert collector.labels and collector.texts and collector.texts[-1].device_name == MEASUREMENT_DEVICE
    frames = {f["seq"]: f for f in read_log(folder / "frames.jsonl")[0]}
    sent = collector.sent()
    # connected late, once 5 frames were logged: nothing before the fifth (which the recording sink may log before the
    # IGTL sink sends it), and the loop lost nothing
    assert sent[0]["seq"] >= 4 and len(frames) == 25
    assert all(as_logged(m, frames) for m in sent)
    image = collector.labels[-1]
    assert image.image.shape == (1, 480, 640) and set(np.unique(image.image)) <= {0, 1, 2}
    assert np.allclose(np.diag(image.ijk_to_world_matrix), [0.1, 0.1, 0.1, 1])  # the calibration's spacing
    fascia_per_column = (image.image[0] == 1).sum(axis=0)
    last = frames[sent[-1]["seq"]]
    assert abs(np.median(fascia_per_column[fascia_per_column > 0]) - last["vertical_px"]) <= 2


def test_a_client_that_never_reads_costs_the_loop_nothing(tmp_path, monkeypatch):
    import edge.live.sinks.igtl as igtl_sink

    sinks = []

    class Timed(igtl_sink.IGTLSink):
        def __init__(self, address: str, **options) -> None:
            super().__init__(address, **options)
            self.write_s: list[float] = []
            sinks.append(self)

        def write(self, *args) -> None:
            t = time.perf_counter()
            super().write(*args)
            self.write_s.append(time.perf_counter() - t)

    monkeypatch.setattr(igtl_sink, "IGTLSink", Timed)
    port = free_port()
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def connect():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                stuck.connect(("127.0.0.1", port))
                return
            except OSError:
                time.sleep(0.01)

    threading.Thread(target=connect, daemon=True).start()
    folder = tmp_path / "rec"
    argv = ["run", "--source", "demo", "--frames", "40", "--no-display", "--status-every", "0", "--record", str(folder)]
    try:
        assert main([*argv, "--igtl-out", f"127.0.0.1:{port}"]) == 0
    finally:
        stuck.close()
    summary = json.loads((folder / "summary.json").read_text())
    [sink] = sinks
    assert summary["frames"]["processed"] == 40
    assert sink.sent > 0  # label maps (300 kB each) were handed over for the client that never reads ...
    assert max(sink.write_s) < 0.25  # ... and not one frame waited for it (its own queue, sent on the server's thread)


def test_igtl_out_beyond_loopback_needs_allow_remote(capsys):
    """As the bridge: an address other than loopback is refused unless --allow-remote says so."""
    assert main(["run", "--frames", "1", "--no-display", "--igtl-out", "10.0.0.1:18944"]) == 1
    err = capsys.readouterr().err
    assert "--igtl-out 10.0.0.1:18944 is not a loopback address" in err and "needs --allow-remote" in err
    assert parse_host_port("10.0.0.1:18944", allow_remote=True) == ("10.0.0.1", 18944)
    assert parse_host_port("0.0.0.0:18944", allow_remote=True) == ("0.0.0.0", 18944)
    assert parse_host_port("localhost:1") == ("localhost", 1) and parse_host_port("127.0.0.5:2") == ("127.0.0.5", 2)
    for bad in ("18944", ":18944", "h:0", "h:x"):
        with pytest.raises(ValueError, match="must be HOST:PORT"):
            parse_host_port(bad, allow_remote=True)


def test_the_server_listens_on_the_address_given():
    """pyigtl binds 127.0.0.1 or one interface's address; the sink binds the HOST of --igtl-out (here 127.0.0.2, a
    loopback address other than pyigtl's, so that the test listens on loopback only)."""
    port = free_port()
    sink = IGTLSink(f"127.0.0.2:{port}")
    try:
        assert listening(port) == {"0200007F"}  # 127.0.0.2
    finally:
        sink.close(Session("test", "none"))


@pytest.fixture(scope="module")
def on_the_wire(tmp_path_factory, phantom):
    """15 frames relayed from a pyigtl server whose IMAGEs carry timestamps a day in the past: (the recording's frames
    by seq, the times the server stamped, what a client read off the wire from the second frame on)."""
    port, out_port = free_port(), free_port()
    streamer = Streamer(port, phantom.frame(3).image, period=0.03)
    folder = tmp_path_factory.mktemp("wire") / "rec"
    log = folder / "frames.jsonl"
    wire = WireClient(out_port, ready=lambda: log.is_file() and log.read_text().count('"seq"') >= 2)
    relay(port, out_port, folder, 15, wire, streamer)
    return {f["seq"]: f for f in read_log(log)[0]}, np.array(streamer.times), wire


def expected_label_meta(phantom) -> list[tuple]:
    h, w = phantom.frame(3).image.shape[:2]
    rgba = {label: (*CLASS_COLOURS_BGR[label][::-1], 255) for label in (1, 2)}
    return [("fascia", LABELS_DEVICE, 1, rgba[1], (w, h, 1), ""), ("below", LABELS_DEVICE, 2, rgba[2], (w, h, 1), "")]


def test_results_carry_the_source_time_and_the_labels_colours(on_the_wire, phantom):
    """Read off the wire by a reader of the protocol's own (not pyigtl): each frame's IMAGE, LBMETA and STRING carry
    the source IMAGE's timestamp in their header, the STRING's JSON and the log carry it too; LBMETA names labels 1
    and 2 of the IMAGE device with their colours; every header is version 1 with a valid CRC."""
    frames, sent_times, wire = on_the_wire
    assert all(np.abs(sent_times - f["source_time"]).min() < 1e-6 for f in frames.values())
    assert len({f["source_time"] for f in frames.values()}) == len(frames)  # each frame its own IMAGE's time
    messages = wire.messages
    assert messages and all(m.version == 1 and m.crc_ok for m in messages)
    strings = [i for i, m in enumerate(messages) if m.kind == "STRING"]
    assert len(strings) >= 5
    for i in strings:
        image, meta, text = messages[i - 2 : i + 1]
        sent = json.loads(text.string())
        kinds = (image.kind, image.device, meta.kind, text.device)
        assert kinds == ("IMAGE", LABELS_DEVICE, "LBMETA", MEASUREMENT_DEVICE)
        assert abs(text.timestamp - sent["source_time"]) < 1e-6
        assert sent["source_time"] == frames[sent["seq"]]["source_time"]
        assert abs(image.timestamp - text.timestamp) < 1e-6 and abs(meta.timestamp - text.timestamp) < 1e-6
        assert image.image_values() <= {0, 1, 2}
    assert messages[strings[0] - 1].label_meta() == expected_label_meta(phantom)


def test_the_reference_library_reads_what_is_sent(on_the_wire, phantom, tmp_path):
    """The protocol's reference C library (libOpenIGTLink 1.11, Debian's libopenigtlink-dev, the 1.x line that knows
    only version 1 headers) reads the same bytes: every CRC valid, LBMETA's elements and each STRING's time as sent."""
    header = Path("/usr/include/openigtlink/igtl_lbmeta.h")
    if shutil.which("cc") is None or not header.is_file():
        pytest.skip("the OpenIGTLink C library or a C compiler is not installed (apt-get install libopenigtlink-dev)")
    reader = tmp_path / "reader"
    source = Path(__file__).with_name("igtl_reference_reader.c")
    build = ["cc", "-o", str(reader), str(source), f"-I{header.parent}", "-lOpenIGTLink", "-lm"]
    subprocess.run(build, check=True, timeout=120)
    frames, _, wire = on_the_wire
    (tmp_path / "stream.bin").write_bytes(bytes(wire.raw))
    done = subprocess.run([str(reader), str(tmp_path / "stream.bin")], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t", 5) for line in done.stdout.splitlines()]
    assert len(rows) == len(wire.messages) >= 15 and all(r[0] == "1" and r[4] == "ok" for r in rows)
    (w, h, _), meta = expected_label_meta(phantom)[0][4], [r[5] for r in rows if r[1] == "LBMETA"]
    assert set(meta) == {
        f"fascia,tlfseg_labels,1,255,215,0,255,{w},{h},1;below,tlfseg_labels,2,0,140,255,255,{w},{h},1"
    }
    assert {r[5] for r in rows if r[1] == "IMAGE"} == {f"{w},{h},1,3,1"}  # uint8, one component
    for r in (r for r in rows if r[1] == "STRING"):
        sent = json.loads(r[5])
        assert (
            abs(float(r[3]) - sent["source_time"]) < 1e-6 and sent["source_time"] == frames[sent["seq"]]["source_time"]
        )


def test_without_the_igtl_extra_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyigtl", None)  # import fails as where it is not installed
    assert main(["run", "--source", "igtl://127.0.0.1:1", "--frames", "1", "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tlfseg run needs the 'igtl' extra (pyigtl is not installed): pip install 'tlfseg[igtl]'"
