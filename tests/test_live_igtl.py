"""The OpenIGTLink source on loopback: a real pyigtl server sends IMAGE messages to `tlfseg run --source igtl://`."""

import json
import signal
import socket
import struct
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from live_support import free_port

from edge.live.sinks import read_log
from edge.live.sinks.igtl import LABELS_DEVICE, MEASUREMENT_DEVICE
from edge.live.sources import BadFrame, FrameReader, SourceError, open_capture
from edge.live.sources.igtl import IGTLCapture, check_image_head, parse_igtl_url, to_bgr
from edge.tools.cli import main

pyigtl = pytest.importorskip("pyigtl")


class Streamer:
    """A pyigtl server sending `picture` (as RGB, like PLUS) every `period` s until stopped."""

    def __init__(
        self, port: int, picture: np.ndarray, device: str = "Image", period: float = 0.02, matrix=None
    ) -> None:
        self.server = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
        self.rgb = np.ascontiguousarray(picture[..., ::-1])[None]
        self.device, self.period, self.sent, self.matrix = device, period, 0, matrix
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if self.server.is_connected():
                image = pyigtl.ImageMessage(self.rgb, ijk_to_world_matrix=self.matrix, device_name=self.device)
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


MEASURED = {"thickness_px", "thickness_mm", "echo", "coverage", "confidence", "flags", "good"}


def as_logged(sent: dict, frames: dict[int, dict]) -> bool:
    """A measurement message carries the measurements of its frame (`seq`) exactly as the recording logged them."""
    logged = frames[sent["seq"]]
    measured = sent.keys() - {"seq", "time"}
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
    argv = ["run", "--source", f"igtl://127.0.0.1:{port}/Image", "--frames", "12", "--no-display", "--status-every"]
    try:
        assert main([*argv, "0", "--record", str(folder), "--igtl-out", f"127.0.0.1:{out_port}"]) == 0
    finally:
        collector.stop()
        streamer.stop()
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
        def __init__(self, address: str) -> None:
            super().__init__(address)
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
    assert max(sink.write_s) < 0.25  # ... and not one frame waited for it (pyigtl's queue, sent on its thread)


def test_igtl_out_takes_loopback_host_port(capsys):
    assert main(["run", "--frames", "1", "--no-display", "--igtl-out", "10.0.0.1:18944"]) == 1
    assert "loopback only" in capsys.readouterr().err


def test_without_the_igtl_extra_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyigtl", None)  # import fails as where it is not installed
    assert main(["run", "--source", "igtl://127.0.0.1:1", "--frames", "1", "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tlfseg run needs the 'igtl' extra (pyigtl is not installed): pip install 'tlfseg[igtl]'"
