"""Message framing: the fixed 20-byte header, payload and CRC-32 trailer, and a resynchronising stream decoder.

Pure: bytes in, packets and faults out; no I/O.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from firmware_bridge.protocol import (
    DEFAULT_MAX_PAYLOAD,
    HEADER_SIZE,
    MAGIC,
    OVERHEAD,
    VERSION,
    ErrorCode,
)

_HEADER = struct.Struct("<4sBBHII")  # magic, version, type, flags, sequence, payload length (+ u32 header CRC)
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class Header:
    version: int
    type: int
    flags: int
    seq: int
    length: int


@dataclass(frozen=True)
class Packet:
    """One message whose header and payload checksums verified."""

    type: int
    flags: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class Fault:
    """Something the decoder dropped or skipped, with the error code to report."""

    code: ErrorCode
    seq: int | None  #: the offending message's sequence number when its header verified
    detail: str


def crc32(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 (IEEE 802.3, reflected, init and final xor 0xFFFFFFFF), as zlib and the C reference compute it."""
    return zlib.crc32(data) & 0xFFFFFFFF


def pack_header(type_: int, seq: int, length: int, flags: int = 0, version: int = VERSION) -> bytes:
    head = _HEADER.pack(MAGIC, version, type_, flags, seq, length)
    return head + _U32.pack(crc32(head))


def pack(type_: int, seq: int, payload: bytes, flags: int = 0) -> bytes:
    """Header + payload + payload CRC-32: the bytes of one message on the wire."""
    return b"".join((pack_header(type_, seq, len(payload), flags), payload, _U32.pack(crc32(payload))))


def parse_header(data: bytes | bytearray | memoryview) -> Header | None:
    """The header at the start of `data`, or None when its magic or checksum does not verify."""
    if len(data) < HEADER_SIZE:
        return None
    magic, version, type_, flags, seq, length = _HEADER.unpack_from(data)
    if magic != MAGIC or _U32.unpack_from(data, 16)[0] != crc32(bytes(data[:16])):
        return None
    return Header(version, type_, flags, seq, length)


@dataclass
class DecoderStats:
    packets: int = 0
    bytes_skipped: int = 0  #: garbage between messages and bytes of skipped/dropped messages
    bad_headers: int = 0  #: magic found but the header checksum failed
    faults: int = 0


@dataclass
class StreamDecoder:
    """Turns a byte stream into `Packet`s and `Fault`s, whatever arrives.

    Scans for the magic, verifies the header checksum (a failure skips one byte and scans on), checks the
    version and the payload limit (a failure skips the announced message without buffering it), then
    waits for the payload and verifies its CRC (a failure rescans the message's bytes from its second byte,
    so a message that began inside a truncated one is still found). Memory: at most one message of
    ``max_payload`` plus the chunk being fed.
    """

    max_payload: int = DEFAULT_MAX_PAYLOAD
    stats: DecoderStats = field(default_factory=DecoderStats)

    def __post_init__(self) -> None:
        self._buf = bytearray()
        self._discard = 0  # bytes of a skipped message still to drop as they arrive

    @property
    def pending(self) -> int:
        """Bytes of a message not complete yet (held, or still to skip); 0 when between messages."""
        return len(self._buf) + self._discard

    @property
    def buffered(self) -> int:
        """Bytes held in memory."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Packet | Fault]:
        if self._discard:
            n = min(self._discard, len(data))
            self._discard -= n
            self.stats.bytes_skipped += n
            data = memoryview(data)[n:]
        self._buf += data
        out: list[Packet | Fault] = []
        while self._step(out):
            pass
        return out

    def expire(self) -> list[Packet | Fault]:
        """The line went quiet mid-message: report it TRUNCATED and rescan what is held after its first byte."""
        out: list[Packet | Fault] = []
        if self._discard:
            self.stats.bytes_skipped += self._discard
            self._discard = 0
            return out
        header = parse_header(self._buf)
        if header is None:
            return out
        self._fault(out, ErrorCode.TRUNCATED, header.seq, f"message cut short after {len(self._buf)} bytes")
        self._skip(1)
        while self._step(out):
            pass
        return out

    def _skip(self, n: int) -> None:
        del self._buf[:n]
        self.stats.bytes_skipped += n

    def _take(self, n: int) -> None:
        del self._buf[:n]

    def _fault(self, out: list, code: ErrorCode, seq: int | None, detail: str) -> None:
        self.stats.faults += 1
        out.append(Fault(code, seq, detail))

    def _step(self, out: list[Packet | Fault]) -> bool:
        """Consume what can be decided from the buffer; False when more bytes are needed."""
        buf = self._buf
        start = buf.find(MAGIC)
        if start < 0:
            self._skip(max(0, len(buf) - (len(MAGIC) - 1)))  # keep a possible partial magic
            return False
        self._skip(start)
        if len(buf) < HEADER_SIZE:
            return False
        header = parse_header(buf)
        if header is None:
            self.stats.bad_headers += 1
            self._skip(1)
            return True
        total = OVERHEAD + header.length
        if header.version != VERSION or header.length > self.max_payload:
            if header.version != VERSION:
                code, why = ErrorCode.BAD_VERSION, f"protocol version {header.version}, this side speaks {VERSION}"
            else:
                code, why = ErrorCode.TOO_LARGE, f"payload of {header.length} bytes, limit {self.max_payload}"
            self._fault(out, code, header.seq, why)
            n = min(total, len(buf))
            self._skip(n)
            self._discard = total - n
            return True
        if len(buf) < total:
            return False
        end = HEADER_SIZE + header.length
        payload = bytes(buf[HEADER_SIZE:end])
        if _U32.unpack_from(buf, end)[0] != crc32(payload):
            if self._header_inside(total):
                self._fault(out, ErrorCode.TRUNCATED, header.seq, "message cut short: another began inside it")
            else:
                self._fault(out, ErrorCode.BAD_CRC, header.seq, f"payload CRC mismatch (type {header.type})")
            self._skip(1)
            return True
        self._take(total)
        self.stats.packets += 1
        out.append(Packet(header.type, header.flags, header.seq, payload))
        return True

    def _header_inside(self, end: int) -> bool:
        """A verified header lies wholly within buf[1:end] (so the answer never depends on later bytes)."""
        stop = end - (HEADER_SIZE - len(MAGIC))  # a magic found before `stop` has its whole header before `end`
        i = self._buf.find(MAGIC, 1, stop)
        while i >= 0:
            if parse_header(self._buf[i : i + HEADER_SIZE]) is not None:
                return True
            i = self._buf.find(MAGIC, i + 1, stop)
        return False
