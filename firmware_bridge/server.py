"""The bridge server: accepts scanners on a TCP or Unix socket (a slot each; when all are taken, the session longest
without a FRAME makes way for a new client) or serves one serial port, a `BridgeSession` per connection."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable

from firmware_bridge.messages import Error, encode
from firmware_bridge.protocol import ErrorCode
from firmware_bridge.runtime import POLL_S, BridgeRuntime
from firmware_bridge.session import BridgeSession
from firmware_bridge.transport import Endpoint, Link, Listener, SerialLink


def stderr_log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} bridge: {line}", file=sys.stderr, flush=True)


class BridgeServer:
    """Listens on a TCP/Unix endpoint (up to `max_clients` sessions at once) or serves one serial port."""

    def __init__(
        self, endpoint: Endpoint, runtime: BridgeRuntime, max_clients: int = 4, log: Callable[[str], None] = stderr_log
    ) -> None:
        if max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, got {max_clients}")
        self.endpoint, self.runtime, self.max_clients, self.log = endpoint, runtime, max_clients, log
        self.stop = threading.Event()
        self._listener: Listener | None = None
        self._serial: SerialLink | None = None
        self._sessions: dict[threading.Thread, BridgeSession | None] = {}  # None: starting
        self._lock = threading.Lock()

    def bind(self) -> Endpoint:
        """Open the endpoint (OSError if it cannot be); returns it as bound (TCP port 0 becomes the real port)."""
        if self.endpoint.kind == "serial":
            self._serial = SerialLink(self.endpoint.path, self.endpoint.baud)
        else:
            self._listener = Listener(self.endpoint)
            self.endpoint = self._listener.endpoint
        return self.endpoint

    def serve_forever(self) -> None:
        if self._listener is None and self._serial is None:
            self.bind()
        if self._serial is not None:
            self._serve_serial(self._serial)
            return
        assert self._listener is not None
        try:
            while not self.stop.is_set():
                link = self._listener.accept(POLL_S)
                if link is not None:
                    self._admit(link)
        finally:
            self._listener.close()
            for thread in list(self._sessions):
                thread.join()

    def _admit(self, link: Link) -> None:
        """A new client gets a slot; when all are taken, the session longest without a FRAME makes way (if that is over
        `evict_after`), else the client is told BUSY."""
        with self._lock:
            self._sessions = {t: s for t, s in self._sessions.items() if t.is_alive()}
            live = [s for s in self._sessions.values() if s is not None and not s.evicted]
            full = len(live) + sum(s is None for s in self._sessions.values()) >= self.max_clients
            if full:
                now = time.monotonic()
                victim = min(live, key=lambda s: s.last_frame, default=None)
                if victim is not None and now - victim.last_frame > self.runtime.limits.evict_after:
                    victim.evict()
                    self.runtime.counters.add("evicted")
                    full = False
            if not full:
                thread = threading.Thread(target=self._run_session, args=(link,), name=link.name, daemon=True)
                self._sessions[thread] = None
        if full:
            self.runtime.counters.add("refused")
            self.log(f"{link.name}: refused, {self.max_clients} clients already connected")
            with contextlib.suppress(OSError):
                link.send(encode(Error(ErrorCode.BUSY, f"{self.max_clients} clients already connected"), 0))
            link.close()
            return
        thread.start()

    def _run_session(self, link: Link) -> None:
        self.runtime.counters.add("sessions")
        self.log(f"{link.name}: connected")
        session = BridgeSession(link, self.runtime, self.stop, self.log)
        with self._lock:
            self._sessions[threading.current_thread()] = session
        try:
            session.run()
        finally:
            link.close()

    def _serve_serial(self, link: SerialLink | None) -> None:
        """One persistent session on the port; a port that goes away is reopened once a second."""
        while not self.stop.is_set():
            if link is None:
                try:
                    link = SerialLink(self.endpoint.path, self.endpoint.baud)
                except OSError:
                    self.stop.wait(1.0)
                    continue
            self.log(f"{link.name}: open at {self.endpoint.baud} baud")
            self.runtime.counters.add("sessions")
            try:
                BridgeSession(link, self.runtime, self.stop, self.log, persistent=True).run()
            finally:
                link.close()
                link = None
            if not self.stop.is_set():
                self.log(f"serial:{self.endpoint.path}: lost; reopening once a second")

    def start(self) -> threading.Thread:
        """Bind and serve in a background thread (tests, benchmarks, embedding)."""
        self.bind()
        thread = threading.Thread(target=self.serve_forever, name=f"bridge {self.endpoint}", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        self.stop.set()
