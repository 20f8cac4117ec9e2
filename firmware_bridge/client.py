"""The scanner side for integrators' test rigs: connect, say HELLO, configure, stream frames, read results.

Sending never waits for results (like firmware); a reader thread collects whatever the runtime sends.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from edge import __version__
from firmware_bridge.frames import frame_message
from firmware_bridge.framing import Fault
from firmware_bridge.mask import decode_mask
from firmware_bridge.messages import (
    NAN,
    Bye,
    Config,
    Decoder,
    Error,
    Glide,
    Heartbeat,
    Hello,
    Hint,
    Message,
    Received,
    Result,
    encode,
)
from firmware_bridge.protocol import DEFAULT_MAX_PAYLOAD, NO_ID, ByeReason, HelloFlag, MaskEncoding, PixelFormat, Role
from firmware_bridge.transport import Endpoint, Link, connect

POLL_S = 0.1


class BridgeError(RuntimeError):
    """The runtime answered with an ERROR, or did not answer in time."""


class NoAnswer(BridgeError):
    """The runtime did not answer in time (or is gone)."""


@dataclass
class Tally:
    """What a client has seen: results by frame id, skipped ids, errors, faults in what the runtime sent."""

    results: dict[int, Result] = field(default_factory=dict)
    glides: dict[int, Glide] = field(default_factory=dict)  #: the gliding extension's figures, by frame id
    skipped: list[int] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  #: every frame id answered (RESULT, skip list, ERROR), in order


class BridgeClient:
    def __init__(self, link: Link, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.link = link
        self._decoder = Decoder(max_payload)
        self._inbox: queue.Queue[Received | Fault | None] = queue.Queue()
        self._seq = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.tally = Tally()
        self.extensions = HelloFlag(0)  #: what the runtime's HELLO granted
        self._reader = threading.Thread(target=self._read, name=f"bridge client {link.name}", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, transport: str | Endpoint, timeout: float = 5.0) -> BridgeClient:
        endpoint = transport if isinstance(transport, Endpoint) else Endpoint.parse(transport)
        return cls(connect(endpoint, timeout))

    def __enter__(self) -> BridgeClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        while not self._closed.is_set():
            data = self.link.recv(POLL_S)
            if data is None:
                continue
            if not data:
                break
            for event in self._decoder.feed(data):
                self._inbox.put(event)
        self._inbox.put(None)  # the runtime is gone

    def send(self, msg: Message, flags: int = 0) -> int:
        """Send one message; returns its sequence number."""
        with self._lock:
            seq = self._seq
            self._seq = (seq + 1) & 0xFFFFFFFF
            self.link.send(encode(msg, seq, flags))
        return seq

    def receive(self, timeout: float) -> Received | Fault | None:
        """The next thing the runtime sent (recorded in `tally`), or None after `timeout` s or once it is gone."""
        try:
            event = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            self._inbox.put(None)
            return None
        if isinstance(event, Fault):
            self.tally.faults.append(event)
            return event
        msg, tally = event.msg, self.tally
        if isinstance(msg, Result):
            if msg.frame_id != NO_ID:
                tally.results[msg.frame_id] = msg
                tally.answers.append(msg.frame_id)
            tally.skipped.extend(msg.skipped)
            tally.answers.extend(msg.skipped)
        elif isinstance(msg, Glide):
            tally.glides[msg.frame_id] = msg
        elif isinstance(msg, Error):
            tally.errors.append(msg)
            if msg.frame_id != NO_ID:
                tally.answers.append(msg.frame_id)
        return event

    def expect(self, kind: type, timeout: float = 5.0) -> Message:
        """Wait for a message of `kind` (anything else on the way is recorded); BridgeError on ERROR or silence."""
        return self._expect(kind, timeout).msg

    def _expect(self, kind: type, timeout: float) -> Received:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.receive(left)
            if event is None:
                break
            if isinstance(event, Received):
                if isinstance(event.msg, kind):
                    return event
                if isinstance(event.msg, Error) and event.msg.frame_id == NO_ID:
                    raise BridgeError(f"runtime error {event.msg.code.name}: {event.msg.text}")
        raise NoAnswer(f"no {kind.__name__} from the runtime within {timeout:g} s")

    def hello(self, timeout: float = 5.0, every: float = 0.5, gliding: bool = False, hints: bool = False) -> Hello:
        """Say HELLO (again every `every` s: a serial runtime may not be listening yet) until the runtime answers.
        `gliding`: ask for the gliding extension (a GLIDE after each RESULT); `hints`: for the hint extension (`hint`
        may be sent); `extensions` says what was granted."""
        deadline = time.monotonic() + timeout
        asked = (HelloFlag.GLIDE if gliding else HelloFlag(0)) | (HelloFlag.HINT if hints else HelloFlag(0))
        while (left := deadline - time.monotonic()) > 0:
            self.send(Hello(Role.SCANNER, software=f"tlfseg bridge client {__version__}"), int(asked))
            with contextlib.suppress(NoAnswer):
                answer = self._expect(Hello, min(every, left))
                self.extensions = HelloFlag(answer.flags & asked)
                return answer.msg
        raise NoAnswer(f"no HELLO from the runtime within {timeout:g} s")

    def configure(self, config: Config, timeout: float = 5.0) -> Config:
        """Send a CONFIG and return the one the runtime applied."""
        self.send(config)
        return self.expect(Config, timeout)

    def hint(
        self, range_mm: tuple[float, float] | None = None, hint_mm: float | None = None, timeout: float = 5.0
    ) -> Hint:
        """Replace the session's depth prior (the fascia's expected depth range and/or a one-time hint depth, mm below
        the ROI's top; None: none) and return the one the runtime applied; BridgeError if it refuses it."""
        self.send(Hint((NAN, NAN) if range_mm is None else range_mm, NAN if hint_mm is None else hint_mm))
        return self.expect(Hint, timeout)

    def heartbeat(self, timeout: float = 5.0) -> tuple[Heartbeat, float]:
        """The runtime's counters and the round-trip time in ms."""
        sent = time.monotonic_ns() // 1000
        self.send(Heartbeat(sent))
        reply = self.expect(Heartbeat, timeout)
        return reply, (time.monotonic_ns() // 1000 - reply.timestamp_us) / 1e3

    def send_frame(
        self,
        image: np.ndarray,
        frame_id: int,
        timestamp_us: int | None = None,
        fmt: PixelFormat | None = None,
        mask: MaskEncoding = MaskEncoding.NONE,
    ) -> None:
        """Send a frame and return at once (its RESULT comes later, through `receive`)."""
        ts = time.monotonic_ns() // 1000 if timestamp_us is None else timestamp_us
        self.send(frame_message(image, frame_id, ts, fmt, mask))

    def bye(self, timeout: float = 30.0) -> ByeReason:
        """Say BYE and collect everything the runtime still sends until its BYE."""
        self.send(Bye())
        return self.expect(Bye, timeout).reason

    def close(self) -> None:
        self._closed.set()
        self._reader.join(timeout=2 * POLL_S + 1)
        self.link.close()


def result_mask(result: Result) -> np.ndarray | None:
    """The class map a RESULT carries (None when it carries none)."""
    return decode_mask(result.mask, result.mask_encoding, result.mask_width, result.mask_height)
