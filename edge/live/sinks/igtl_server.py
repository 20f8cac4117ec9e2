"""The OpenIGTLink server behind `--igtl-out`, a socket of the runtime's own: a few clients at once, each with its own
newest-wins queue of frames, served by one thread that never blocks on a client.

pyigtl's server served one client (a second got nothing), parsed what clients sent with no limit on what a header
announces and could not be stopped while a client trickled. Here what clients send is read and dropped (the sink takes
no commands) a chunk at a time; a client that takes no byte for `stall_s` while frames wait, or one over
`max_clients`, is closed and counted; `close` ends by its deadline whatever the clients do.
"""

from __future__ import annotations

import contextlib
import functools
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.live.session import worth_an_event

MAX_CLIENTS = 4  #: clients served at once (3D Slicer and a few others); one more is closed at once, counted
QUEUE_FRAMES = 2  #: frames waiting for a client: a newer one replaces the oldest (counted dropped for that client)
STALL_S = 5.0  #: a client that takes no byte for this long while frames wait is closed, freeing its place
FLUSH_S = 0.5  #: at close, the time the frames already queued have to go out
CHUNK = 64 * 1024  #: bytes read from (and dropped) or sent to a client at a time


@dataclass
class _Client:
    sock: socket.socket
    name: str
    queue: deque[Callable[[], bytes]] = field(default_factory=deque)  #: frames, packed when first taken
    out: memoryview | None = None  #: the rest of the frame being sent (a frame is never cut short for a newer one)
    sent: int = 0  #: frames sent whole
    dropped: int = 0  #: frames replaced in its queue before it could take them
    progress: float = field(default_factory=time.monotonic)  #: when it last took a byte (or had nothing to take)

    @property
    def waiting(self) -> bool:
        return self.out is not None or bool(self.queue)


class IGTLServer:
    """Listens on `host:port` (OSError where it cannot); `send(frame)` queues one frame's messages for every client
    connected; `take_events()` says who came, left and was refused; `close()` within `FLUSH_S` plus a second."""

    def __init__(
        self,
        host: str,
        port: int,
        max_clients: int = MAX_CLIENTS,
        queue_frames: int = QUEUE_FRAMES,
        stall_s: float = STALL_S,
    ) -> None:
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, port), family=family, backlog=max_clients)
        self.listener.setblocking(False)
        self.max_clients, self.queue_frames, self.stall_s = max_clients, queue_frames, stall_s
        #: clients served, gone since, closed at once (no place), most at once
        self.served = self.gone = self.refused = self.most = 0
        self.sent = self.dropped = 0  #: frames sent whole, dropped from a queue, over every client
        self._clients: dict[socket.socket, _Client] = {}
        self._events: deque[tuple[float, str, str]] = deque(maxlen=1000)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closing = 0.0  #: when close was asked (the queues then drain for `FLUSH_S`)
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name=f"igtl-out:{port}", daemon=True)
        self._thread.start()

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def send(self, pack: Callable[[], bytes]) -> None:
        """Queue a frame for every client; never waits for one. `pack` gives its messages' bytes: it is called once,
        on the server's thread, when a client first takes the frame (packing a label map costs a few ms)."""
        frame, now = functools.cache(pack), time.monotonic()
        with self._lock:
            for client in self._clients.values():
                if not client.waiting:
                    client.progress = now
                if len(client.queue) >= self.queue_frames:
                    client.queue.popleft()
                    client.dropped += 1
                    self.dropped += 1
                client.queue.append(frame)
        self._wake()

    def take_events(self) -> list[tuple[float, str, str]]:
        """(time.monotonic(), kind, detail) of clients that came, left or were refused since the last call."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
            return events

    def close(self) -> None:
        """Send what is queued for `FLUSH_S` at most, then close every socket; never waits on a client."""
        self._closing = time.monotonic()
        self._wake()
        self._thread.join(FLUSH_S + 1.0)
        self._stop.set()
        self._thread.join(1.0)

    # -- the server's thread ---------------------------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is already pending) or closed
            self._wake_w.send(b"\0")

    def _worth(self, n: int) -> bool:
        """Whether the `n`-th client to come (or go) is an event: each of the first `max_clients`, then one in 100
        (a client reconnecting in a loop must not fill the session's events; the totals count them all)."""
        return n <= self.max_clients or worth_an_event(n)

    def _event(self, kind: str, detail: str) -> None:
        with self._lock:
            self._events.append((time.monotonic(), kind, detail))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._closing and (
                    time.monotonic() - self._closing > FLUSH_S or not any(c.waiting for c in self._clients.values())
                ):
                    return
                self._watch()
                for key, mask in self._selector.select(0.1):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        self._drain(self._wake_r)
                    elif (client := self._clients.get(key.fileobj)) is not None:
                        self._serve(client, mask)
                self._check_stalls()
        finally:
            for client in list(self._clients.values()):
                self._drop(client, "the run ended")
            for s in (self.listener, self._wake_r, self._wake_w):
                s.close()
            self._selector.close()

    def _watch(self) -> None:
        """Ask to write to the clients that have frames waiting, and only to those."""
        for sock, client in self._clients.items():
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.waiting else 0)
            if self._selector.get_key(sock).events != wanted:
                self._selector.modify(sock, wanted)

    def _accept(self) -> None:
        try:
            sock, address = self.listener.accept()
        except OSError:
            return
        name = f"{address[0]}:{address[1]}"
        if len(self._clients) >= self.max_clients or self._closing:
            sock.close()
            self.refused += 1
            if worth_an_event(self.refused):
                self._event(
                    "client_refused", f"{name}: {self.max_clients} clients already ({self.refused} refused so far)"
                )
            return
        sock.setblocking(False)
        with self._lock:
            self._clients[sock] = _Client(sock, name)
            self.most = max(self.most, len(self._clients))
        self._selector.register(sock, selectors.EVENT_READ)
        self.served += 1
        if self._worth(self.served):
            self._event("client_joined", f"{name} ({len(self._clients)} of {self.max_clients} places)")

    @staticmethod
    def _drain(sock: socket.socket) -> bool:
        """Read what is there and drop it; False once the peer has closed."""
        try:
            return bool(sock.recv(CHUNK))
        except (BlockingIOError, InterruptedError):
            return True

    def _serve(self, client: _Client, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ and not self._drain(client.sock):
                self._drop(client, "closed the connection")
                return
            if mask & selectors.EVENT_WRITE:
                self._write(client)
        except OSError as exc:
            self._drop(client, exc.strerror or str(exc))

    def _write(self, client: _Client) -> None:
        with self._lock:
            frame = client.queue.popleft() if client.out is None and client.queue else None
        if frame is not None:
            client.out = memoryview(frame())
        if client.out is None:
            return
        try:
            n = client.sock.send(client.out[:CHUNK])
        except (BlockingIOError, InterruptedError):
            return
        with self._lock:
            client.progress = time.monotonic()
            client.out = client.out[n:] or None
            if client.out is None:
                client.sent += 1
                self.sent += 1

    def _check_stalls(self) -> None:
        now = time.monotonic()
        for client in list(self._clients.values()):
            if client.waiting and now - client.progress > self.stall_s:
                self._drop(client, f"took nothing for {self.stall_s:g} s")

    def _drop(self, client: _Client, why: str) -> None:
        with self._lock:
            self._clients.pop(client.sock, None)
        self._selector.unregister(client.sock)
        client.sock.close()
        self.gone += 1
        if self._worth(self.gone):
            self._event("client_left", f"{client.name}: {why}; {client.sent} frames sent, {client.dropped} dropped")
