"""Message framing: the fixed 20-byte header, payload and CRC-32 trailer, and a resynchronising stream decoder.

Pure: bytes in, packets and faults out; no I/O.
"""

from __future__ import annotations

import functools
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


# -- CRC-32 arithmetic: crc(A + B) == crc_shift(crc(A), len(B)) ^ crc(B) (GF(2) polynomials, reflected) -------------

_POLY = 0xEDB88320


def _gf_mul(a: int, b: int) -> int:
    p = 0
    while a:
        if a & 0x80000000:
            p ^= b
        a = (a << 1) & 0xFFFFFFFF
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


_X8_POW2 = [0x00800000]  # x^(8 * 2^k) mod the CRC polynomial
for _ in range(31):
    _X8_POW2.append(_gf_mul(_X8_POW2[-1], _X8_POW2[-1]))


@functools.cache
def _times(k: int) -> tuple[list[int], ...]:
    """Byte tables for multiplying by x^(8 * 2^k): the product is linear in the multiplicand's bits."""
    basis = [_gf_mul(_X8_POW2[k], 1 << i) for i in range(32)]
    tables = []
    for j in range(4):
        table = [0] * 256
        for v in range(1, 256):
            low = v & -v
            table[v] = table[v ^ low] ^ basis[8 * j + low.bit_length() - 1]
        tables.append(table)
    return tuple(tables)


def crc_shift(crc: int, n: int) -> int:
    """The CRC-32 of A moved past `n` more bytes: ``crc32(a + b) == crc_shift(crc32(a), len(b)) ^ crc32(b)``."""
    k = 0
    while n and crc:
        if n & 1:
            t0, t1, t2, t3 = _times(k)
            crc = t0[crc & 255] ^ t1[crc >> 8 & 255] ^ t2[crc >> 16 & 255] ^ t3[crc >> 24]
        n >>= 1
        k += 1
    return crc


def _lost_payload(length: int, payload: bytes) -> bool:
    """A header whose payload and CRC were lost, the next message's header right behind it: that header's first 16
    bytes and its CRC (the same CRC-32) read as a 16-byte payload that verifies. No message sends such a payload."""
    return length == HEADER_SIZE - 4 and payload.startswith(MAGIC)


@dataclass
class DecoderStats:
    packets: int = 0
    bytes_skipped: int = 0  #: garbage between messages and bytes of skipped/dropped messages (received ones only)
    bad_headers: int = 0  #: magic found but the header checksum failed
    faults: int = 0


MARK_STEP = 1024  #: bytes between the running-CRC marks kept over a failed message (resync cost per header)


@dataclass
class StreamDecoder:
    """Turns a byte stream into `Packet`s and `Fault`s, whatever arrives.

    Scans for the magic, verifies the header checksum (a failure skips one byte and scans on), checks the
    version and the payload limit (a failure skips the announced message without buffering it), then
    waits for the payload and verifies its CRC (a failure rescans the message's bytes from its second byte,
    so a message that began inside a truncated one is still found). Memory: at most one message of
    ``max_payload`` plus the chunk being fed.

    Work is linear in the bytes received, even for crafted streams of nested valid headers: a failed message's
    payload CRC is kept as a running CRC with marks every `MARK_STEP` bytes, and a header found inside it is
    checked from those (``crc_shift``) instead of re-reading its payload; the C reference does the same.
    """

    max_payload: int = DEFAULT_MAX_PAYLOAD
    stats: DecoderStats = field(default_factory=DecoderStats)

    def __post_init__(self) -> None:
        self._buf = bytearray()
        self._discard = 0  # bytes of a skipped message still to drop as they arrive
        self._at = 0  # stream position of _buf[0] (positions count the bytes that entered the buffer)
        # the span: payload of the last failed message, CRC'd from _span_base up to _span_end, marks every MARK_STEP;
        # the cursor: the CRC from _span_base up to the first byte held (never before _span_base)
        self._span = False
        self._span_base = self._span_end = self._span_crc = 0
        self._cur_pos = self._cur_crc = 0
        self._marks: dict[int, int] = {}
        self._mark_low = 1

    @property
    def pending(self) -> int:
        """Bytes of a message not complete yet (held, or still to skip); 0 when between messages."""
        return len(self._buf) + self._discard

    @property
    def buffered(self) -> int:
        """Bytes held in memory."""
        return len(self._buf)

    @property
    def in_message(self) -> bool:
        """A message has been announced (its header verified, or a skip is under way) and is not complete yet."""
        return bool(self._discard) or (len(self._buf) >= HEADER_SIZE and parse_header(self._buf) is not None)

    @property
    def capacity(self) -> int:
        """Bytes the buffer has allocated (shrinks again as a large message is consumed)."""
        return self._buf.__alloc__()

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
        """The line went quiet mid-message: report it TRUNCATED and rescan what is held after its first byte.

        A skip still in progress is abandoned; the bytes that never arrived are not counted as skipped."""
        out: list[Packet | Fault] = []
        if self._discard:
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

    def _drop(self, n: int) -> None:
        to = self._at + n
        if self._span and to >= self._span_end:
            self._span, self._marks = False, {}
        elif self._span and to > self._cur_pos:
            self._cur_crc = zlib.crc32(self._held(self._cur_pos, to), self._cur_crc)
            self._cur_pos = to
            while self._mark_low * MARK_STEP + self._span_base < to:  # marks behind the cursor are never used again
                self._marks.pop(self._mark_low, None)
                self._mark_low += 1
        del self._buf[:n]
        self._at = to

    def _skip(self, n: int) -> None:
        self._drop(n)
        self.stats.bytes_skipped += n

    def _held(self, lo: int, hi: int) -> bytes:
        return bytes(self._buf[lo - self._at : hi - self._at])

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
        payload = self._verified_payload(header.length)
        if payload is None or _lost_payload(header.length, payload):
            if payload is not None or self._header_inside(total):
                self._fault(out, ErrorCode.TRUNCATED, header.seq, "message cut short: another began inside it")
            else:
                self._fault(out, ErrorCode.BAD_CRC, header.seq, f"payload CRC mismatch (type {header.type})")
            self._skip(1)
            return True
        self._drop(total)
        self.stats.packets += 1
        out.append(Packet(header.type, header.flags, header.seq, payload))
        return True

    def _verified_payload(self, n: int) -> bytes | None:
        """The payload of the message at the front if its CRC verifies, else None (and the span kept for resync)."""
        a = self._at + HEADER_SIZE
        b = a + n
        want = _U32.unpack_from(self._buf, HEADER_SIZE + n)[0]
        if not self._span or a >= self._span_end:  # not inside a failed message: one pass over the payload
            payload = bytes(self._buf[HEADER_SIZE : HEADER_SIZE + n])
            crc = crc32(payload)
            if crc == want:
                self._span, self._marks = False, {}
                return payload
            self._span, self._marks, self._mark_low = True, {}, 1
            self._span_base = self._span_end = self._cur_pos = a
            self._span_crc = self._cur_crc = 0
            self._extend(b, payload)
            return None
        crc_a = zlib.crc32(self._held(self._cur_pos, a), self._cur_crc)  # the cursor is at max(span base, front)
        if b >= self._span_end:
            self._extend(b)
            crc_b = self._span_crc
        else:
            k = (b - self._span_base) // MARK_STEP
            mark = self._span_base + k * MARK_STEP
            start, crc = (mark, self._marks[k]) if k and mark >= self._cur_pos else (self._cur_pos, self._cur_crc)
            crc_b = zlib.crc32(self._held(start, b), crc)
        if crc_b ^ crc_shift(crc_a, n) != want:
            return None
        return bytes(self._buf[HEADER_SIZE : HEADER_SIZE + n])

    def _extend(self, to: int, data: bytes | None = None) -> None:
        """Run the span's CRC on to position `to` (over `data`, the bytes from the span's end, when given)."""
        while self._span_end < to:
            k = (self._span_end - self._span_base) // MARK_STEP + 1
            stop = min(self._span_base + k * MARK_STEP, to)
            if data is None:
                chunk = self._held(self._span_end, stop)
            else:
                chunk = memoryview(data)[self._span_end - self._span_base : stop - self._span_base]
            self._span_crc = zlib.crc32(chunk, self._span_crc)
            self._span_end = stop
            if stop == self._span_base + k * MARK_STEP:
                self._marks[k] = self._span_crc

    def _header_inside(self, end: int) -> bool:
        """A verified header lies wholly within buf[1:end] (so the answer never depends on later bytes)."""
        stop = end - (HEADER_SIZE - len(MAGIC))  # a magic found before `stop` has its whole header before `end`
        i = self._buf.find(MAGIC, 1, stop)
        while i >= 0:
            if parse_header(self._buf[i : i + HEADER_SIZE]) is not None:
                return True
            i = self._buf.find(MAGIC, i + 1, stop)
        return False
