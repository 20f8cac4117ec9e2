"""The messages: typed payloads, their little-endian layouts, and the message-level encoder/decoder.

Pure stdlib: no I/O, no numpy, no OpenCV, no LiteRT; a scanner-side Python client can use it alone.
Layouts are documented field by field in docs/protocol.md.
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass, field
from typing import ClassVar

from firmware_bridge.framing import Fault, Packet, StreamDecoder, pack
from firmware_bridge.protocol import (
    DEFAULT_MAX_PAYLOAD,
    GLIDE_VERSION,
    HINT_VERSION,
    MAX_CLASSES,
    MAX_SKIPPED_PER_RESULT,
    NO_ID,
    VERSION,
    ByeReason,
    ErrorCode,
    MaskEncoding,
    MsgType,
    PixelFormat,
    Role,
)

NAN = float("nan")
_STR_LEN = struct.Struct("<H")
_COUNT = struct.Struct("<B")


class MalformedPayload(ValueError):
    """A payload that does not parse as its message type says."""


class _Reader:
    """Sequential little-endian reads over a payload; running off its end is a MalformedPayload."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, fmt: struct.Struct) -> tuple:
        if self.pos + fmt.size > len(self.data):
            raise MalformedPayload(f"{self.what}: payload ends at {len(self.data)} bytes, expected more")
        values = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return values

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedPayload(f"{self.what}: {n} bytes announced, {len(self.data) - self.pos} present")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def string(self) -> str:
        (n,) = self.take(_STR_LEN)
        return self.bytes(n).decode("utf-8", errors="replace")  # text is informative: bad bytes become U+FFFD

    def rest(self) -> bytes:
        return self.bytes(len(self.data) - self.pos)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise MalformedPayload(f"{self.what}: {len(self.data) - self.pos} unexpected bytes after the fields")

    def end_of_layout(self, version: int, known: int) -> None:
        """A versioned payload: layout `known` holds exactly its fields, a later one at least them (the fields it
        appends are left unread); layout 0 is malformed."""
        if version == 0:
            raise MalformedPayload(f"{self.what}: layout version 0")
        if version == known:
            self.end()


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError(f"text of {len(raw)} bytes is over the 65535-byte field limit")
    return _STR_LEN.pack(len(raw)) + raw


def _enum(kind, value: int, what: str):
    try:
        return kind(value)
    except ValueError:
        raise MalformedPayload(f"{what}: unknown {kind.__name__} {value}") from None


@dataclass(frozen=True)
class Hello:
    """Capabilities: each side sends one; the runtime answers a scanner's HELLO with its own."""

    TYPE: ClassVar[MsgType] = MsgType.HELLO
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<BBHHIHHBB")

    role: Role
    protocol_version: int = VERSION
    max_width: int = 0  #: largest frame accepted (0 from a scanner: not applicable)
    max_height: int = 0
    max_payload: int = DEFAULT_MAX_PAYLOAD  #: largest payload this side accepts
    input_width: int = 0  #: the model's input size (0 from a scanner)
    input_height: int = 0
    pixel_formats: tuple[PixelFormat, ...] = ()  #: accepted FRAME formats
    mask_encodings: tuple[MaskEncoding, ...] = ()  #: mask encodings RESULT can carry
    software: str = ""  #: e.g. "tlfseg 0.1.0" or the firmware's name and version
    model: str = ""  #: model file and precision (empty from a scanner)
    classes: tuple[str, ...] = ()  #: class names by id

    def payload(self) -> bytes:
        if len(self.classes) > MAX_CLASSES:
            raise ValueError(f"{len(self.classes)} class names, at most {MAX_CLASSES} per HELLO")
        fmts = sum(1 << int(f) for f in self.pixel_formats)
        masks = sum(1 << int(m) for m in self.mask_encodings)
        fixed = self._FIXED.pack(
            self.protocol_version, self.role, self.max_width, self.max_height, self.max_payload,
            self.input_width, self.input_height, fmts, masks,
        )  # fmt: skip
        names = bytes([len(self.classes)]) + b"".join(_string(c) for c in self.classes)
        return fixed + _string(self.software) + _string(self.model) + names

    @classmethod
    def parse(cls, data: bytes) -> Hello:
        r = _Reader(data, "HELLO")
        version, role, mw, mh, mp, iw, ih, fmts, masks = r.take(cls._FIXED)
        software, model = r.string(), r.string()
        (n,) = r.take(_COUNT)
        if n > MAX_CLASSES:
            raise MalformedPayload(f"HELLO: {n} class names, at most {MAX_CLASSES}")
        classes = tuple(r.string() for _ in range(n))
        r.end()
        return cls(
            _enum(Role, role, "HELLO"), version, mw, mh, mp, iw, ih,
            tuple(f for f in PixelFormat if fmts >> int(f) & 1),
            tuple(m for m in MaskEncoding if masks >> int(m) & 1),
            software, model, classes,
        )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Session settings from the scanner; the runtime echoes the CONFIG it applied. 0 means "not given"."""

    TYPE: ClassVar[MsgType] = MsgType.CONFIG
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<HHHHffff")

    roi: tuple[int, int, int, int] = (0, 0, 0, 0)  #: x, y, w, h in frame pixels; w or h 0: detect per frame
    mm_per_px: float = 0.0  #: pixel spacing; 0: unknown
    depth_mm: float = 0.0  #: or the scanner's depth setting, spanning the ROI's rows; 0: unknown
    min_coverage: float = 0.0  #: fraction of ROI columns with fascia under which LOW_COVERAGE is set (0: default)
    min_confidence: float = 0.0  #: mean fascia probability under which LOW_CONFIDENCE is set (0: default)

    @property
    def fixed_roi(self) -> bool:
        return self.roi[2] > 0 and self.roi[3] > 0

    def payload(self) -> bytes:
        return self._FIXED.pack(*self.roi, self.mm_per_px, self.depth_mm, self.min_coverage, self.min_confidence)

    @classmethod
    def parse(cls, data: bytes) -> Config:
        r = _Reader(data, "CONFIG")
        x, y, w, h, mm, depth, coverage, confidence = r.take(cls._FIXED)
        r.end()
        return cls((x, y, w, h), mm, depth, coverage, confidence)


@dataclass(frozen=True)
class Frame:
    """One scanner frame: raw GREY8/BGR8 rows (``stride`` bytes apart) or a JPEG/PNG file."""

    TYPE: ClassVar[MsgType] = MsgType.FRAME
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<IQBBHHI")

    frame_id: int
    timestamp_us: int  #: the scanner's clock, echoed in the RESULT
    format: PixelFormat
    width: int
    height: int
    stride: int  #: bytes from one row to the next (raw formats); 0 for JPEG/PNG
    data: bytes = field(repr=False)
    mask: MaskEncoding = MaskEncoding.NONE  #: ask for the class mask in the RESULT

    def payload(self) -> bytes:
        head = self._FIXED.pack(
            self.frame_id, self.timestamp_us, self.format, self.mask, self.width, self.height, self.stride
        )
        return head + self.data

    @classmethod
    def parse(cls, data: bytes) -> Frame:
        r = _Reader(data, "FRAME")
        fid, ts, fmt, mask, w, h, stride = r.take(cls._FIXED)
        fmt, mask = _enum(PixelFormat, fmt, "FRAME"), _enum(MaskEncoding, mask, "FRAME")
        return cls(fid, ts, fmt, w, h, stride, r.rest(), mask)


@dataclass(frozen=True)
class StageLatency:
    """Microseconds per stage: waiting, decoding the image, the frame pipeline's stages, measuring, and in all."""

    _FIXED: ClassVar[struct.Struct] = struct.Struct("<7I")

    queue_us: int = 0  #: received -> taken up (waiting for the engine), decoding excluded
    decode_us: int = 0  #: message bytes -> image (JPEG/PNG decoding; a view for raw formats)
    preprocess_us: int = 0
    inference_us: int = 0
    postprocess_us: int = 0
    measure_us: int = 0
    total_us: int = 0  #: frame fully received -> RESULT encoded


@dataclass(frozen=True)
class Result:
    """The answer to a frame (or, with frame_id NO_ID, only a report of skipped frames)."""

    TYPE: ClassVar[MsgType] = MsgType.RESULT
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<IQIHHHH8f")
    _MASK: ClassVar[struct.Struct] = struct.Struct("<BHHI")

    frame_id: int
    timestamp_us: int = 0
    quality: int = 0  #: `protocol.Quality` bits
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)  #: the area that was segmented and measured
    thickness_mm: float = NAN  #: median thickness perpendicular to the band; NaN: no fascia or no scale
    thickness_px: float = NAN  #: the same in pixels; NaN: no fascia
    thickness_iqr_px: float = NAN  #: its spread across the columns (interquartile range)
    coverage: float = 0.0  #: fraction of ROI columns where the fascia is found
    confidence: float = NAN  #: mean model probability of the fascia pixels
    echo_fascia: float = NAN  #: echogenicity: mean grey (0..255) inside the fascia
    echo_above: float = NAN  #: mean grey of the tissue above it (same columns)
    echo_below: float = NAN  #: mean grey of the tissue below it
    latency: StageLatency = StageLatency()
    skipped: tuple[int, ...] = ()  #: frame ids received since the previous RESULT and not processed
    mask_encoding: MaskEncoding = MaskEncoding.NONE
    mask_width: int = 0
    mask_height: int = 0
    mask: bytes = field(default=b"", repr=False)

    @property
    def measurements(self) -> tuple[float, ...]:
        """The eight float32 fields, in wire order."""
        return (
            self.thickness_mm, self.thickness_px, self.thickness_iqr_px, self.coverage, self.confidence,
            self.echo_fascia, self.echo_above, self.echo_below,
        )  # fmt: skip

    def payload(self) -> bytes:
        if len(self.skipped) > MAX_SKIPPED_PER_RESULT:
            raise ValueError(f"{len(self.skipped)} skipped ids, at most {MAX_SKIPPED_PER_RESULT} per RESULT")
        return b"".join(
            (
                self._FIXED.pack(self.frame_id, self.timestamp_us, self.quality, *self.roi, *self.measurements),
                StageLatency._FIXED.pack(*astuple(self.latency)),
                struct.pack(f"<H{len(self.skipped)}I", len(self.skipped), *self.skipped),
                self._MASK.pack(self.mask_encoding, self.mask_width, self.mask_height, len(self.mask)),
                self.mask,
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> Result:
        r = _Reader(data, "RESULT")
        fid, ts, quality, x, y, w, h, *measurements = r.take(cls._FIXED)
        latency = StageLatency(*r.take(StageLatency._FIXED))
        (n,) = r.take(_STR_LEN)
        if n > MAX_SKIPPED_PER_RESULT:
            raise MalformedPayload(f"RESULT: {n} skipped ids, at most {MAX_SKIPPED_PER_RESULT}")
        skipped = r.take(struct.Struct(f"<{n}I"))
        enc, mw, mh, length = r.take(cls._MASK)
        mask = r.bytes(length)
        r.end()
        return cls(
            fid, ts, quality, (x, y, w, h), *measurements, latency, tuple(skipped),
            _enum(MaskEncoding, enc, "RESULT"), mw, mh, mask,
        )  # fmt: skip


@dataclass(frozen=True)
class Error:
    TYPE: ClassVar[MsgType] = MsgType.ERROR
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<HII")

    code: ErrorCode
    text: str = ""
    ref_seq: int = NO_ID  #: sequence number of the message it is about (NO_ID: unknown)
    frame_id: int = NO_ID  #: the FRAME it answers (NO_ID: none)

    def payload(self) -> bytes:
        return self._FIXED.pack(self.code, self.ref_seq, self.frame_id) + _string(self.text)

    @classmethod
    def parse(cls, data: bytes) -> Error:
        r = _Reader(data, "ERROR")
        code, ref_seq, frame_id = r.take(cls._FIXED)
        text = r.string()
        r.end()
        return cls(_enum(ErrorCode, code, "ERROR"), text, ref_seq, frame_id)


@dataclass(frozen=True)
class Heartbeat:
    """Keep-alive and counters; the receiver answers with its own counters and the same timestamp."""

    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<QIIII")

    timestamp_us: int = 0  #: the requester's clock, echoed in the answer (round-trip time)
    frames_received: int = 0
    results_sent: int = 0
    frames_skipped: int = 0
    errors: int = 0

    def payload(self) -> bytes:
        return self._FIXED.pack(
            self.timestamp_us, self.frames_received, self.results_sent, self.frames_skipped, self.errors
        )

    @classmethod
    def parse(cls, data: bytes) -> Heartbeat:
        r = _Reader(data, "HEARTBEAT")
        values = r.take(cls._FIXED)
        r.end()
        return cls(*values)


@dataclass(frozen=True)
class Bye:
    TYPE: ClassVar[MsgType] = MsgType.BYE
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<H")

    reason: ByeReason = ByeReason.DONE

    def payload(self) -> bytes:
        return self._FIXED.pack(self.reason)

    @classmethod
    def parse(cls, data: bytes) -> Bye:
        r = _Reader(data, "BYE")
        (reason,) = r.take(cls._FIXED)
        r.end()
        return cls(_enum(ByeReason, reason, "BYE"))


PAIR = tuple[float, float]  #: (fascia/below, above/fascia)
NAN2: PAIR = (NAN, NAN)


@dataclass(frozen=True)
class Glide:
    """The gliding extension: a frame's shear figures, sent after its RESULT to a scanner that asked (HELLO flags).

    Each pair of floats is (fascia/below, above/fascia): the lateral displacement of the lower layer minus the
    upper's. NaN: no value (a pair left out, or no calibration for the mm fields, or no cycle completed yet)."""

    TYPE: ClassVar[MsgType] = MsgType.GLIDE
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<IHHIII20f")

    frame_id: int
    flags: int = 0  #: `protocol.GlideFlag` bits: why the pair is left out; 0: a good pair, counted
    pairs: int = 0  #: good frame pairs in the totals
    flagged: int = 0  #: frame pairs left out
    cycles: int = 0  #: movement cycles completed
    relative_px: PAIR = NAN2  #: this frame pair's relative displacement
    relative_mm: PAIR = NAN2
    strain_pct: PAIR = NAN2  #: relative displacement / distance between the layers' centres, %
    distance_px: PAIR = NAN2
    shear_px: PAIR = (0.0, 0.0)  #: cumulative over the good pairs
    shear_mm: PAIR = NAN2
    shear_strain_pct: PAIR = (0.0, 0.0)
    cycle_shear_px: PAIR = NAN2  #: the last completed cycle's shear (its strokes' mean size)
    cycle_shear_mm: PAIR = NAN2
    cycle_strain_pct: PAIR = NAN2
    version: int = GLIDE_VERSION  #: the payload layout

    @property
    def figures(self) -> tuple[PAIR, ...]:
        """The ten float pairs, in wire order."""
        return (
            self.relative_px, self.relative_mm, self.strain_pct, self.distance_px, self.shear_px, self.shear_mm,
            self.shear_strain_pct, self.cycle_shear_px, self.cycle_shear_mm, self.cycle_strain_pct,
        )  # fmt: skip

    def payload(self) -> bytes:
        floats = [v for pair in self.figures for v in pair]
        return self._FIXED.pack(self.frame_id, self.version, self.flags, self.pairs, self.flagged, self.cycles, *floats)

    @classmethod
    def parse(cls, data: bytes) -> Glide:
        """Version 1: exactly its fields. A later version: at least them, the fields appended after ignored."""
        r = _Reader(data, "GLIDE")
        fid, version, flags, pairs, flagged, cycles, *floats = r.take(cls._FIXED)
        r.end_of_layout(version, GLIDE_VERSION)
        pairs_ = [tuple(floats[i : i + 2]) for i in range(0, len(floats), 2)]
        return cls(fid, flags, pairs, flagged, cycles, *pairs_, version=version)


@dataclass(frozen=True)
class Hint:
    """The operator's depth prior: where the fascia lies, in mm below the ROI's top row. A scanner the runtime granted
    it (HELLO flags) sends one to replace the session's prior; the runtime echoes the one it applied. NaN: none."""

    TYPE: ClassVar[MsgType] = MsgType.HINT
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<H3f")

    range_mm: tuple[float, float] = (NAN, NAN)  #: (lo, hi): the fascia's expected depth range, both NaN: none
    hint_mm: float = NAN  #: one depth: keep the band candidate nearest it; NaN: none
    version: int = HINT_VERSION  #: the payload layout

    def payload(self) -> bytes:
        return self._FIXED.pack(self.version, *self.range_mm, self.hint_mm)

    @classmethod
    def parse(cls, data: bytes) -> Hint:
        """Version 1: exactly its fields. A later version: at least them, the fields appended after ignored."""
        r = _Reader(data, "HINT")
        version, lo, hi, hint = r.take(cls._FIXED)
        r.end_of_layout(version, HINT_VERSION)
        return cls((lo, hi), hint, version)


Message = Hello | Config | Frame | Result | Error | Heartbeat | Bye | Glide | Hint
MESSAGE_TYPES: dict[int, type] = {
    cls.TYPE: cls for cls in (Hello, Config, Frame, Result, Error, Heartbeat, Bye, Glide, Hint)
}


def encode(msg: Message, seq: int, flags: int = 0) -> bytes:
    """The wire bytes of one message."""
    return pack(msg.TYPE, seq, msg.payload(), flags)


@dataclass(frozen=True)
class Received:
    msg: Message
    seq: int
    flags: int


class Decoder:
    """Stream bytes -> `Received` messages and `Fault`s (framing faults, unknown types, malformed payloads)."""

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.stream = StreamDecoder(max_payload)

    @property
    def pending(self) -> int:
        return self.stream.pending

    def feed(self, data: bytes | bytearray | memoryview) -> list[Received | Fault]:
        return [self._message(e) for e in self.stream.feed(data)]

    def expire(self) -> list[Received | Fault]:
        return [self._message(e) for e in self.stream.expire()]

    def _message(self, event: Packet | Fault) -> Received | Fault:
        if isinstance(event, Fault):
            return event
        cls = MESSAGE_TYPES.get(event.type)
        if cls is None:
            return Fault(ErrorCode.UNKNOWN_TYPE, event.seq, f"unknown message type {event.type}")
        try:
            return Received(cls.parse(event.payload), event.seq, event.flags)
        except MalformedPayload as exc:
            return Fault(ErrorCode.MALFORMED, event.seq, str(exc))
