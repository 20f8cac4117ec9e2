"""One scanner's session: FRAME messages in, RESULTs out.

A reader thread decodes and answers everything at once (HELLO, CONFIG, HINT, HEARTBEAT, errors) and puts each good
FRAME into a one-frame slot; a worker thread segments whatever is in the slot (and, for a scanner whose HELLO asked
for the gliding extension, measures gliding between the frames it processes: a GLIDE after each RESULT).
A frame that arrives while the slot is still full replaces it (the newest wins) and the replaced id
goes into the skip list of the next RESULT, so the scanner never waits and every frame id is answered:
by a RESULT, in a skip list, or by an ERROR naming it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

from edge.core.frame import FrameRejected
from edge.core.heap import give_back_after_frame, give_back_freed_memory
from edge.live.pipeline import FramePipeline
from edge.measurement.candidates import OperatorPrior
from firmware_bridge.frames import check_frame, frame_image
from firmware_bridge.framing import Fault
from firmware_bridge.messages import (
    Bye,
    Config,
    Decoder,
    Error,
    Frame,
    Glide,
    Heartbeat,
    Hello,
    Hint,
    Message,
    Received,
    Result,
    encode,
)
from firmware_bridge.protocol import HINT_VERSION, MAX_SKIPPED_PER_RESULT, NO_ID, ByeReason, ErrorCode, HelloFlag
from firmware_bridge.results import assemble_glide, assemble_result
from firmware_bridge.runtime import POLL_S, BridgeRuntime
from firmware_bridge.settings import operator_prior
from firmware_bridge.transport import Link


@dataclass(frozen=True)
class _Job:
    frame: Frame
    seq: int
    received: float  #: time.perf_counter() when the frame's last byte was decoded
    config: Config  #: the configuration in effect when the frame arrived
    pipeline: FramePipeline


class BridgeSession:
    """One scanner's conversation: its own decoder, configuration, frame slot and skip list."""

    def __init__(
        self,
        link: Link,
        runtime: BridgeRuntime,
        stop: threading.Event,
        log: Callable[[str], None],
        persistent: bool = False,
    ) -> None:
        """`persistent`: a serial line, where a BYE ends the scanner's session but not the link, and no idle
        timeout applies; otherwise the session ends with its connection."""
        self.link, self.runtime, self.stop, self.log, self.persistent = link, runtime, stop, log, persistent
        self.limits = replace(runtime.limits, idle_timeout=0.0) if persistent else runtime.limits
        self.decoder = Decoder(self.limits.max_payload)
        self._reset()
        self._seq = 0
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._slot: _Job | None = None
        self._busy = False
        self._closing = False
        self._skipped: list[int] = []
        self._dead = threading.Event()  # the link failed while sending
        self._evict = threading.Event()  # the server wants this session's slot for a new client
        self.last_progress = time.monotonic()  #: when the last complete message was decoded (a fault is none)
        self.last_frame = self.last_progress  #: when the last FRAME came (or the session began): its claim to a slot
        self._decided = self.last_progress  # when the decoder last decided a message (complete or a fault)
        self._tokens = float(self.limits.error_burst)  # ERRORs about faults that may be sent now
        self._tokens_at = time.monotonic()
        self._suppressed = 0  # fault ERRORs not sent since the last one that was
        self._bugs_logged: set[tuple[type, str, int | None]] = set()  # where failures logged with a traceback arose

    def _reset(self) -> None:
        """Start a scanner session: default configuration, no extensions, no depth prior, counters at zero."""
        self.config = self.runtime.default_config()
        self.extensions = HelloFlag(0)  #: granted in the HELLO exchange
        self.prior = OperatorPrior()  #: the operator's depth range and hint (HINT), kept across CONFIGs
        self.pipeline = self._new_pipeline(self.config)
        self.counts = {"received": 0, "results": 0, "skipped": 0, "errors": 0}

    def _new_pipeline(self, config: Config) -> FramePipeline:
        """A pipeline for frames from now on: what was carried from frame to frame (ROI tracking, the band's track,
        the gliding totals) starts again."""
        return self.runtime.pipeline(config, bool(self.extensions & HelloFlag.GLIDE), self.prior)

    # -- sending ---------------------------------------------------------------------------------

    def send(self, msg: Message, flags: int = 0) -> None:
        with self._send_lock:
            if self._dead.is_set():
                return
            data = encode(msg, self._seq, flags)
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            if isinstance(msg, Result) and msg.frame_id != NO_ID:  # counted first: a HEARTBEAT answered
                self.counts["results"] += 1  # after the peer has this message must include it
                self.runtime.counters.add("results_sent")
            elif isinstance(msg, Error):
                self.counts["errors"] += 1
                self.runtime.counters.add("errors_sent")
            try:
                self.link.send(data)
            except OSError as exc:
                self.log(f"{self.link.name}: send failed ({exc}); closing the session")
                self._dead.set()

    def _send_error(self, code: ErrorCode, text: str, ref_seq: int | None, frame_id: int = NO_ID) -> None:
        self.send(Error(code, text, NO_ID if ref_seq is None else ref_seq, frame_id))

    def _send_fault_error(self, code: ErrorCode, text: str, ref_seq: int | None) -> None:
        """An ERROR about a fault (not answering a FRAME), within the per-connection rate: a stream of bad headers
        must not be reflected at several times its bytes. Those over the rate are counted and named in the next."""
        now = time.monotonic()
        lim = self.limits
        self._tokens = min(float(lim.error_burst), self._tokens + (now - self._tokens_at) * lim.error_rate)
        self._tokens_at = now
        if self._tokens < 1:
            self._suppressed += 1
            self.runtime.counters.add("errors_suppressed")
            return
        self._tokens -= 1
        if self._suppressed:
            text = f"{text} ({self._suppressed} more errors not sent: over {lim.error_rate:g} per second)"
            self._suppressed = 0
        self._send_error(code, text, ref_seq)

    def evict(self) -> None:
        """Ask the session to make way for a new client: it says ERROR BUSY and ends."""
        self._evict.set()

    @property
    def evicted(self) -> bool:
        """Asked to make way for a new client (it no longer counts as holding a slot)."""
        return self._evict.is_set()

    # -- the reader ------------------------------------------------------------------------------

    def run(self) -> ByeReason | None:
        """Serve until BYE, the peer goes, the link fails, idle timeout or stop; the link stays open."""
        worker = threading.Thread(target=self._work, name=f"bridge worker {self.link.name}", daemon=True)
        worker.start()
        reason = None
        try:
            reason = self._read_loop()
        finally:
            with self._cond:
                self._closing = True
                if reason is None and self._slot is not None:  # nobody left to answer
                    self._slot = None
                    self.runtime.counters.add("dropped_on_close")
                self._cond.notify_all()
            worker.join()
        self._ended(reason)
        return reason

    def _ended(self, reason: ByeReason | None) -> None:
        """A scanner session is over: its counts logged, and freed memory given back (no frames are coming for it)."""
        give_back_freed_memory()
        c = self.counts
        self.log(
            f"{self.link.name}: session ended ({reason.name if reason is not None else 'peer gone'}): "
            f"{c['received']} frames, {c['results']} results, {c['skipped']} skipped, {c['errors']} errors"
        )

    def _read_loop(self) -> ByeReason | None:
        last_rx = time.monotonic()
        started, arrived = None, 0  # when the message in progress began, and the bytes received since
        while not self._dead.is_set():
            if self.stop.is_set():
                return self._finish(ByeReason.SHUTDOWN)
            if self._evict.is_set():
                idle = time.monotonic() - self.last_frame
                self._send_error(ErrorCode.BUSY, f"no FRAME for {idle:.1f} s and a new client is waiting", None)
                self.log(f"{self.link.name}: evicted after {idle:.1f} s without a FRAME")
                return None
            data = self.link.recv(POLL_S)
            now = time.monotonic()
            if data is None:
                stalled = self.decoder.pending and now - last_rx > self.limits.stall_timeout
                if stalled and self._handle_all(self.decoder.expire(), now):
                    return ByeReason.DONE
                if self.limits.idle_timeout and now - self.last_progress > self.limits.idle_timeout:
                    return self._finish(ByeReason.IDLE)
            elif not data:
                if self.decoder.pending:
                    self.runtime.counters.add("truncated_on_close")
                    self.log(f"{self.link.name}: closed in the middle of a message ({self.decoder.pending} bytes)")
                return None
            else:
                last_rx = now
                arrived += len(data)
                if self._handle_all(self.decoder.feed(data), now):
                    return ByeReason.DONE
            if not self.decoder.stream.in_message:
                started = None
            elif started is None or self._decided == now:  # a message has begun (after another was decided)
                started, arrived = now, 0
            if started is not None and self._too_slow(now - started, arrived):
                return None
        return None

    def _too_slow(self, elapsed: float, arrived: int) -> bool:
        """A socket client whose message arrives under the minimum byte rate (after a grace of stall_timeout) is
        closed: a few clients dribbling bytes must not hold every slot."""
        lim = self.limits
        if self.persistent or not lim.min_rate or elapsed <= lim.stall_timeout:
            return False
        if arrived >= lim.min_rate * (elapsed - lim.stall_timeout):
            return False
        rate = arrived / elapsed
        self.runtime.counters.add("too_slow")
        self.log(f"{self.link.name}: message arriving at {rate:.0f} B/s, under {lim.min_rate:g} B/s; closing")
        text = f"message arriving at {rate:.0f} B/s, under the minimum {lim.min_rate:g} B/s: closing the connection"
        self._send_error(ErrorCode.TRUNCATED, text, None)
        return True

    def _handle_all(self, events: list[Received | Fault], now: float) -> bool:
        """Handle decoded events; True once a BYE has been answered. Only a complete message is progress: a session
        sending faults alone (a bad header every few seconds) neither stays open nor keeps its slot by them."""
        if events:
            self._decided = now
        if any(isinstance(event, Received) for event in events):
            self.last_progress = now
        if any(isinstance(event, Received) and isinstance(event.msg, Frame) for event in events):
            self.last_frame = now
        for event in events:
            if isinstance(event, Fault):
                self._send_fault_error(event.code, event.detail, event.seq)
            elif self._handle(event):
                return True
        return False

    def _handle(self, rx: Received) -> bool:
        msg = rx.msg
        if isinstance(msg, Frame):
            self._on_frame(msg, rx.seq)
        elif isinstance(msg, Hello):
            self._on_hello(msg, HelloFlag(rx.flags & (HelloFlag.GLIDE | HelloFlag.HINT)))
        elif isinstance(msg, Config):
            self._on_config(msg, rx.seq)
        elif isinstance(msg, Hint) and self.extensions & HelloFlag.HINT:
            self._on_hint(msg, rx.seq)
        elif isinstance(msg, Hint):
            text = "HINT without the hint extension: ask for it in the HELLO (header flag bit 2)"
            self._send_fault_error(ErrorCode.UNEXPECTED, text, rx.seq)
        elif isinstance(msg, Heartbeat):
            c = self.counts
            self.send(Heartbeat(msg.timestamp_us, c["received"], c["results"], c["skipped"], c["errors"]))
        elif isinstance(msg, Bye):
            self._finish(ByeReason.DONE)
            if not self.persistent:
                return True
            self._ended(ByeReason.DONE)
            self._reset()
        elif isinstance(msg, Error):
            self.log(f"{self.link.name}: scanner reports {msg.code.name}: {msg.text}")
        else:
            self._send_fault_error(ErrorCode.UNEXPECTED, f"{msg.TYPE.name} is sent by the runtime, not to it", rx.seq)
        return False

    def _on_hello(self, hello: Hello, asked: HelloFlag) -> None:
        """Answer with the runtime's HELLO, granting the extensions asked for that it has (gliding: the pipeline for
        frames from now on measures it, from a fresh start; without the hint extension there is no depth prior)."""
        granted = ", extensions " + asked.name.lower() if asked else ""
        self.log(f"{self.link.name}: HELLO from {hello.software or 'a scanner'} ({hello.role.name}){granted}")
        if asked != self.extensions:
            self.extensions = asked
            if not asked & HelloFlag.HINT:
                self.prior = OperatorPrior()
            self.pipeline = self._new_pipeline(self.config)
        self.send(self.runtime.hello(), int(asked))

    def _on_config(self, config: Config, seq: int) -> None:
        """A new pipeline for frames from now on, with the session's depth prior (mm below the ROI's top: it stays
        valid at another depth setting); a CONFIG without a calibration while a prior is set is refused."""
        try:
            self.runtime.check_config(config)
            self.runtime.check_prior(config, self.prior)
        except ValueError as exc:
            self._send_error(ErrorCode.BAD_CONFIG, str(exc), seq)
            return
        self.config, self.pipeline = config, self._new_pipeline(config)
        self.send(config)

    def _on_hint(self, hint: Hint, seq: int) -> None:
        """Replace the session's depth prior for frames from now on (a new pipeline: the band's track starts at the
        hinted band) and echo what was applied; without a calibration, or with a value out of range, BAD_CONFIG and
        the previous prior stays."""
        try:
            prior = operator_prior(hint)
            self.runtime.check_prior(self.config, prior)
        except ValueError as exc:
            self._send_error(ErrorCode.BAD_CONFIG, str(exc), seq)
            return
        self.prior, applied = prior, replace(hint, version=HINT_VERSION)  # the fields this runtime knows
        self.pipeline = self._new_pipeline(self.config)
        self.log(f"{self.link.name}: depth prior from HINT: range_mm={prior.range_mm}, hint_mm={prior.hint_mm}")
        self.send(applied)

    def _on_frame(self, frame: Frame, seq: int) -> None:
        self.counts["received"] += 1
        self.runtime.counters.add("frames_received")
        try:
            check_frame(frame, self.limits.frame)
        except FrameRejected as exc:
            self._send_error(ErrorCode.BAD_FRAME, str(exc), seq, frame.frame_id)
            return
        overflow: list[int] = []
        with self._cond:
            if self._slot is not None:
                self._skipped.append(self._slot.frame.frame_id)
                self.counts["skipped"] += 1
                self.runtime.counters.add("frames_skipped")
                if len(self._skipped) >= MAX_SKIPPED_PER_RESULT:  # a stalled worker: report them now
                    overflow, self._skipped = self._skipped, []
            self._slot = _Job(frame, seq, time.perf_counter(), self.config, self.pipeline)
            self._cond.notify_all()
        if overflow:
            self.send(Result(NO_ID, skipped=tuple(overflow)))

    def _finish(self, reason: ByeReason) -> ByeReason:
        """Let the worker answer the frame in hand, report leftover skips, say BYE."""
        with self._cond:
            while (self._slot is not None or self._busy) and not self._dead.is_set():
                self._cond.wait(POLL_S)
            leftover, self._skipped = self._skipped, []
        if leftover:
            self.send(Result(NO_ID, skipped=tuple(leftover)))
        self.send(Bye(reason))
        return reason

    # -- the worker ------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._closing:
                    self._cond.wait()
                if self._slot is None:
                    return
                job, self._slot, self._busy = self._slot, None, True
            (reply, glide), received = self._process(job), job.received
            pixels = job.frame.width * job.frame.height
            del job  # the frame's bytes are not kept past its answer
            with self._cond:
                if isinstance(reply, Result):
                    skipped, self._skipped = self._skipped, []
                    total_ms = (time.perf_counter() - received) * 1e3
                    latency = replace(reply.latency, total_us=round(total_ms * 1e3))
                    reply = replace(reply, skipped=tuple(skipped), latency=latency)
            self.send(reply)
            if glide is not None:
                self.send(glide)
            give_back_after_frame(pixels)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _process(self, job: _Job) -> tuple[Result | Error, Glide | None]:
        """The frame's answer, and its GLIDE where gliding is on: ERROR BAD_FRAME only for `FrameRejected` (the
        frame's fault), ERROR INTERNAL for any other failure (a bug)."""
        frame = job.frame
        try:
            decode_start = time.perf_counter()
            image = frame_image(frame, self.limits.frame)
            decode_ms = (time.perf_counter() - decode_start) * 1e3
            with self.runtime.lock:
                start = time.perf_counter()
                frame_result = job.pipeline(image)
            queue_ms = (start - job.received) * 1e3 - decode_ms
            result = assemble_result(frame, frame_result, job.config, queue_ms=queue_ms, decode_ms=decode_ms)
            gliding = frame_result.gliding
            return result, assemble_glide(frame.frame_id, gliding) if gliding is not None else None
        except FrameRejected as exc:  # the frame's fault: it does not decode, an ROI outside it, not an image
            return Error(ErrorCode.BAD_FRAME, str(exc), job.seq, frame.frame_id), None
        except Exception as exc:  # noqa: BLE001 - a bug: answered and logged, and the session goes on
            self._log_bug(frame.frame_id, exc)
            return Error(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}", job.seq, frame.frame_id), None

    def _log_bug(self, frame_id: int, exc: Exception) -> None:
        """Log a failure that is not the frame's fault: with its traceback the first time it happens at its place in
        the code in this session, in one line after that (a bug hit on every frame must not flood the log)."""
        where = traceback.extract_tb(exc.__traceback__)[-1]
        site = (type(exc), where.filename, where.lineno)
        if site in self._bugs_logged:
            self.log(f"{self.link.name}: frame {frame_id} failed again: {exc!r} (traceback logged before)")
            return
        self._bugs_logged.add(site)
        trace = "".join(traceback.format_exception(exc)).rstrip()
        self.log(f"{self.link.name}: frame {frame_id} failed (a bug, answered INTERNAL): {exc!r}\n{trace}")
