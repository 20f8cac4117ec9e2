"""The OpenIGTLink source on loopback: a real pyigtl server sends IMAGE messages to `tlfseg run --source igtl://`."""

import json
import signal
import socket
import sys
import threading
import time

import numpy as np
import pytest

from edge.live.sinks import read_log
from edge.live.sources import BadFrame, FrameReader, SourceError, open_capture
from edge.live.sources.igtl import IGTLCapture, parse_igtl_url, to_bgr
from edge.tools.cli import main

pyigtl = pytest.importorskip("pyigtl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Streamer:
    """A pyigtl server sending `picture` (as RGB, like PLUS) every `period` s until stopped."""

    def __init__(self, port: int, picture: np.ndarray, device: str = "Image", period: float = 0.02) -> None:
        self.server = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
        self.rgb = np.ascontiguousarray(picture[..., ::-1])[None]
        self.device, self.period, self.sent = device, period, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if self.server.is_connected():
                self.server.send_message(pyigtl.ImageMessage(self.rgb, device_name=self.device), wait=False)
                self.sent += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.server.stop()


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
    with pytest.raises(BadFrame):
        to_bgr(np.zeros((1, 3, 4), np.uint16))
    assert isinstance(open_capture("igtl://127.0.0.1:1/x"), IGTLCapture)


def test_no_server_is_a_clear_error():
    with pytest.raises(SourceError, match="no OpenIGTLink server"):
        IGTLCapture(f"igtl://127.0.0.1:{free_port()}", connect_s=0.2).open()


def test_run_segments_a_stream_from_an_igtl_server(tmp_path, phantom, capsys):
    from edge.live.pipeline import FramePipeline

    frame = phantom.frame(3)
    port = free_port()
    streamer = Streamer(port, frame.image)
    try:
        folder = tmp_path / "rec"
        argv = ["run", "--source", f"igtl://127.0.0.1:{port}/Image", "--frames", "5", "--no-display"]
        assert main([*argv, "--status-every", "0", "--record", str(folder)]) == 0
    finally:
        streamer.stop()
    frames, events, _ = read_log(folder / "frames.jsonl")
    summary = json.loads((folder / "summary.json").read_text())
    assert len(frames) == 5 and summary["frames"]["processed"] == 5 and streamer.sent >= 5
    expected = FramePipeline()(frame.image).measurement
    assert {f["thickness_px"] for f in frames} == {round(expected.thickness_px, 3)}
    assert all(f["good"] for f in frames) and "OpenIGTLink IMAGE" in events[0]["detail"]


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


def test_igtl_out_publishes_label_maps_and_measurements(tmp_path):
    from edge.live.sinks.igtl import LABELS_DEVICE, MEASUREMENT_DEVICE

    port = free_port()
    client = pyigtl.OpenIGTLinkClient("127.0.0.1", port)  # connects as soon as the run listens
    labels, texts = [], []
    stop = threading.Event()

    def collect():
        while not stop.is_set():
            for m in client.get_latest_messages():
                (labels if m.device_name == LABELS_DEVICE else texts).append(m)
            time.sleep(0.005)

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    folder = tmp_path / "rec"
    argv = ["run", "--source", "demo", "--frames", "25", "--no-display", "--status-every", "0"]
    try:
        assert main([*argv, "--igtl-out", f"127.0.0.1:{port}", "--record", str(folder)]) == 0
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(2)
        client.stop()
    assert labels and texts and texts[-1].device_name == MEASUREMENT_DEVICE
    frames = {f["seq"]: f for f in read_log(folder / "frames.jsonl")[0]}
    for message in texts:
        sent = json.loads(message.string)
        assert sent["thickness_px"] == frames[sent["seq"]]["thickness_px"]
        assert sent["flags"] == frames[sent["seq"]]["flags"]
    image = labels[-1].image
    assert image.shape == (1, 480, 640) and set(np.unique(image)) <= {0, 1, 2}
    fascia_per_column = (image[0] == 1).sum(axis=0)
    last = frames[json.loads(texts[-1].string)["seq"]]
    assert abs(np.median(fascia_per_column[fascia_per_column > 0]) - last["vertical_px"]) <= 2


def test_a_client_that_never_reads_costs_the_loop_nothing(tmp_path):
    port = free_port()
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def connect_late():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                stuck.connect(("127.0.0.1", port))
                return
            except OSError:
                time.sleep(0.01)

    threading.Thread(target=connect_late, daemon=True).start()
    folder = tmp_path / "rec"
    argv = ["run", "--source", "demo", "--frames", "40", "--no-display", "--status-every", "0", "--record", str(folder)]
    t0 = time.monotonic()
    try:
        assert main([*argv, "--igtl-out", f"127.0.0.1:{port}"]) == 0
    finally:
        stuck.close()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["frames"]["processed"] == 40 and time.monotonic() - t0 < 15


def test_igtl_out_takes_loopback_host_port(capsys):
    assert main(["run", "--frames", "1", "--no-display", "--igtl-out", "10.0.0.1:18944"]) == 1
    assert "loopback only" in capsys.readouterr().err


def test_without_the_igtl_extra_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyigtl", None)  # import fails as where it is not installed
    assert main(["run", "--source", "igtl://127.0.0.1:1", "--frames", "1", "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tlfseg run needs the 'igtl' extra (pyigtl is not installed): pip install 'tlfseg[igtl]'"
