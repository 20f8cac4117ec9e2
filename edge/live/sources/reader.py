"""`FrameReader`: runs a capture on its own thread and hands over only the newest frame.

When inference is slower than the probe, the frames that arrive meanwhile replace each other in a
one-frame slot and are counted as dropped ("busy"), so latency never grows. Every frame the capture
delivers is either taken by the consumer or counted dropped with a reason. A lost source is reopened
with back-off; what happened is reported as events.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from edge.live.session import worth_an_event
from edge.live.sources.base import BadFrame, Capture, EndOfSource, Frame, SourceError, SourceLost

#: give up reopening a file or folder after this long (a device is retried for ever)
FINITE_GIVE_UP_S = 10.0
#: a source retried for ever says so this often while it stays lost (a run waiting for it is never silent)
RETRY_NOTICE_S = 10.0


@dataclass(frozen=True)
class SourceEvent:
    t: float  #: time.monotonic()
    kind: str  #: opened, lost, retrying, reopened, gave_up, end, stalled, resumed, error
    detail: str


class FrameReader:
    """Reads `capture` on a daemon thread.

    keep="latest": a new frame replaces an untaken one (counted dropped, reason "busy");
    keep="all": the thread waits until the consumer has taken the previous frame (files, offline).
    Captures that are not `live` are paced at their `fps` unless keep="all".
    """

    def __init__(
        self,
        capture: Capture,
        keep: str = "latest",
        backoff_s: tuple[float, float] = (0.25, 5.0),
        give_up_s: float | None = -1.0,
    ) -> None:
        if keep not in ("latest", "all"):
            raise ValueError(f"keep must be 'latest' or 'all', got {keep!r}")
        self.capture = capture
        self.keep = keep
        self.backoff_s = backoff_s
        #: -1 = the default for the capture: FINITE_GIVE_UP_S for files and folders, never for devices
        self.give_up_s = (FINITE_GIVE_UP_S if capture.finite else None) if give_up_s == -1.0 else give_up_s
        self.seen = 0
        self.dropped: Counter[str] = Counter()
        self.reopens = 0
        self._delay = backoff_s[0]  #: the wait before the next reopening: grows until a frame comes
        self._slot: Frame | None = None
        self._events: list[SourceEvent] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False

    # -- consumer side -------------------------------------------------------------------------------
    def start(self) -> FrameReader:
        """Open the capture here (errors surface to the caller), then read on the thread."""
        self.capture.open()
        self._event("opened", self.capture.describe())
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"reader:{self.capture.name}", daemon=True)
        self._thread.start()
        return self

    def get(self, timeout: float) -> Frame | None:
        """The newest untaken frame, waiting up to `timeout` s; None if none came (or the source is done)."""
        with self._cond:
            if self._slot is None and self._running:
                self._cond.wait(timeout)
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def counts(self) -> tuple[int, Counter]:
        """(frames seen, dropped by reason), consistent with each other."""
        with self._cond:
            return self.seen, self.dropped.copy()

    @property
    def finished(self) -> bool:
        """The source has ended (or was given up) and every frame has been handed over."""
        with self._cond:
            return not self._running and self._slot is None

    def take_events(self) -> list[SourceEvent]:
        with self._cond:
            events, self._events = self._events, []
            return events

    def stop(self, join_s: float = 2.0) -> None:
        """Stop reading; an untaken frame counts as dropped ("stopped"). Never blocks longer than `join_s`."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(join_s)
            if self._thread.is_alive():
                self._event("error", f"capture thread still blocked in {self.capture.name} after {join_s:g} s; left")
        with self._cond:
            if self._slot is not None:
                self.dropped["stopped"] += 1
                self._slot = None
            self._running = False
        if self._thread is None or not self._thread.is_alive():
            self.capture.close()

    # -- reader thread -------------------------------------------------------------------------------
    def _event(self, kind: str, detail: str) -> None:
        with self._cond:
            self._events.append(SourceEvent(time.monotonic(), kind, detail))

    def _run(self) -> None:
        pace = not self.capture.live and self.keep == "latest" and self.capture.fps > 0
        period = 1.0 / self.capture.fps if pace else 0.0
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    image = self.capture.read()
                except EndOfSource as exc:
                    self._event("end", str(exc))
                    return
                except BadFrame as exc:
                    with self._cond:
                        self.seen += 1
                        self.dropped[exc.reason] += 1
                        n = self.dropped[exc.reason]
                    if worth_an_event(n):
                        self._event("error", f"{exc} ({n} {exc.reason} so far)")
                    continue
                except SourceLost as exc:
                    self._event("lost", str(exc))
                    if not self._reopen():
                        return
                    due = time.monotonic()
                    continue
                if pace:
                    due += period
                    wait = due - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        return
                    if wait < -period:  # fell behind (slow source): do not burst to catch up
                        due = time.monotonic()
                self._publish(image, self.capture.geometry(), self.capture.picture_name())
        finally:
            with self._cond:
                self._running = False
                self._cond.notify_all()

    def _publish(self, image, geometry, name) -> None:
        now, wall = time.monotonic(), time.time()
        with self._cond:
            if self.keep == "all":
                while self._slot is not None and not self._stop.is_set():
                    self._cond.wait(0.1)
                if self._stop.is_set():
                    return
            if self._slot is not None:
                self.dropped["busy"] += 1
            self._slot = Frame(image, self.seen, now, wall, self.capture.name, geometry, name)
            self.seen += 1
            self._delay = self.backoff_s[0]  # a frame came: the source works again
            self._cond.notify_all()

    def _reopen(self) -> bool:
        """Close, then reopen with exponential back-off until it works, `give_up_s` passes, or stop. The back-off
        carries over to the next loss until a frame comes: a peer that accepts the connection and then fails at once
        (sends garbage, announces too much) is not reconnected to at the first step's rate. A source retried for ever
        says every `RETRY_NOTICE_S` that it still is, with its attempts and the last reason."""
        self.capture.close()
        cap_s = self.backoff_s[1]
        t0 = noticed = time.monotonic()
        attempts = 0
        while not self._stop.wait(self._delay):
            attempts += 1
            self._delay = min(self._delay * 2, cap_s)
            try:
                self.capture.open()
            except SourceError as exc:
                now = time.monotonic()
                if self.give_up_s is not None and now - t0 >= self.give_up_s:
                    self._event("gave_up", f"{self.capture.name}: {attempts} attempts in {self.give_up_s:g} s: {exc}")
                    return False
                if now - noticed >= RETRY_NOTICE_S:
                    noticed = now
                    self._event(
                        "retrying",
                        f"{self.capture.name}: lost {now - t0:.0f} s, {attempts} attempts, "
                        f"next in {self._delay:g} s: {exc}",
                    )
                continue
            self.reopens += 1
            down = time.monotonic() - t0
            self._event("reopened", f"{self.capture.name} after {down:.1f} s ({attempts} attempts)")
            return True
        return False
