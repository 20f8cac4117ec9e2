"""`--igtl-out` against careless and hostile clients on loopback (issue 25): a client trickling a huge message, one that
never reads, more clients than places. Every client here stops within seconds."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from net_support import free_port, listening

from edge.tools.cli import main

pytest.importorskip("pyigtl")

HEADER = struct.Struct(">H12s20sIIQQ")


def connect(port: int, timeout_s: float = 60.0, rcvbuf: int | None = None) -> socket.socket:
    """A client of the sink once it listens."""
    deadline = time.monotonic() + timeout_s
    while not listening(port):
        assert time.monotonic() < deadline, "the sink never listened"
        time.sleep(0.02)
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    return sock


class Trickler:
    """Announces a 256 MiB STRING, then sends one byte a second (and reads nothing) until stopped."""

    def __init__(self, port: int) -> None:
        self.port, self._stop = port, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError), connect(self.port) as sock:
            sock.sendall(HEADER.pack(1, b"STRING", b"x", 0, 0, 256 << 20, 0))
            while not self._stop.wait(1.0):
                sock.send(b"a")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)


class Reader:
    """A client that reads every message as it comes and keeps the `seq` of each measurement STRING."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port)
        self.sock.settimeout(0.2)
        self.seqs: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                chunk = self.sock.recv(n - len(data))
                if not chunk:
                    raise ConnectionError
                data += chunk
        return bytes(data)

    def _run(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while not self._stop.is_set():
                _, kind, _, _, _, size, _ = HEADER.unpack(self._read(HEADER.size))
                body = self._read(size)
                if kind.rstrip(b"\0") == b"STRING":
                    self.seqs.append(json.loads(body[4:])["seq"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)
        self.sock.close()


def run_argv(folder, port: int, *more: str) -> list[str]:
    argv = ["run", "--source", "demo", "--no-display", "--status-every", "0", "--threads", "1", "--record"]
    return [*argv, str(folder), "--igtl-out", f"127.0.0.1:{port}", *more]


@pytest.mark.parametrize("ending", ["frames", "sigterm"])
def test_a_client_trickling_a_huge_message_does_not_hold_the_end(tmp_path, ending):
    """Issue 25: a client announcing a 256 MiB STRING and then sending 1 byte/s kept the run alive 35 s after its
    last frame, SIGTERM ineffective for 20 s (pyigtl's server read it whole). What clients send is now read a chunk
    at a time and dropped: the run ends within 2 s of its last frame, or of SIGTERM."""
    port, folder = free_port(), tmp_path / "rec"
    more = ["--frames", "15"] if ending == "frames" else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.tools.cli", *run_argv(folder, port, "--fps", "25", *more)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    trickler = Trickler(port)
    log = folder / "frames.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_bytes().count(b"\n") >= 8) and time.monotonic() < deadline:
            time.sleep(0.05)
        if ending == "sigterm":
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            asked = time.time()
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("still running 15 s after the end was due")
        ended = time.time()
    finally:
        trickler.stop()
    summary = json.loads((folder / "summary.json").read_text())
    last = max(json.loads(line)["time"] for line in log.read_text().splitlines() if '"seq"' in line)
    assert proc.returncode == (0 if ending == "frames" else 130)
    assert ended - (last if ending == "frames" else asked) < 2.0
    assert any(e["kind"] == "client_joined" for e in summary["events"])


def test_clients_are_served_side_by_side_and_a_slow_one_drops_only_its_own_frames(tmp_path):
    """Issue 25: one client at a time: a second got 0 bytes while the first got 32.6 MB, so any local process that
    connects first starves 3D Slicer. Now 4 places, each client its own newest-wins queue: a client that never reads
    (connected first) drops its own frames, counted; the readers beside it get every frame from when they joined;
    a fifth client is closed at once and counted."""
    port, folder = free_port(), tmp_path / "rec"
    stuck, readers, extra = [], [], []

    def clients() -> None:
        stuck.append(connect(port, rcvbuf=4096))
        readers.extend(Reader(port) for _ in range(3))
        deadline = time.monotonic() + 60
        while not all(r.seqs for r in readers) and time.monotonic() < deadline:
            time.sleep(0.02)
        fifth = connect(port)
        fifth.settimeout(3)
        with contextlib.suppress(OSError):
            extra.append(fifth.recv(1))  # b"" once the server closes it
        fifth.close()

    thread = threading.Thread(target=clients, daemon=True)
    thread.start()
    try:
        assert main(run_argv(folder, port, "--frames", "40", "--fps", "10")) == 0
    finally:
        thread.join(10)
        for reader in readers:
            reader.stop()
        for sock in stuck:
            sock.close()
    summary = json.loads((folder / "summary.json").read_text())
    events = summary["events"]
    assert len(readers) == 3 and extra == [b""]
    logged = [json.loads(line)["seq"] for line in (folder / "frames.jsonl").read_text().splitlines() if '"seq"' in line]
    for reader in readers:  # every frame processed from the first it got to the last
        assert reader.seqs == logged[logged.index(reader.seqs[0]) :], (reader.seqs, logged)
    left = [re.search(r"(\d+) frames sent, (\d+) dropped", e["detail"]) for e in events if e["kind"] == "client_left"]
    dropped = sorted(int(m[2]) for m in left)
    assert len(dropped) == 4 and dropped[:3] == [0, 0, 0] and dropped[3] > 0, dropped  # only the stuck client's
    [out] = [e["detail"] for e in events if e["kind"] == "igtl_out"]
    assert "4 clients (4 at once, 4 places), 1 refused" in out, out
    assert any(e["kind"] == "client_refused" for e in events)
