"""The stream decoder under hostile input: linear resync work, lengths near 4 GiB, abandoned skips, class limits."""

from __future__ import annotations

import random
import zlib

import pytest

from firmware_bridge import framing
from firmware_bridge.framing import Fault, StreamDecoder, crc_shift, pack_header
from firmware_bridge.messages import Bye, Decoder, Hello, MalformedPayload, Received, encode
from firmware_bridge.protocol import OVERHEAD, ErrorCode, MsgType, Role
from firmware_bridge.testing.difffuzz import nested_headers


def test_crc_shift_combines_crcs_of_parts():
    rng = random.Random(3)
    for n in (0, 1, 5, 255, 4096, 70_001):
        a, b = rng.randbytes(rng.randint(0, 300)), rng.randbytes(n)
        assert zlib.crc32(a + b) == crc_shift(zlib.crc32(a), len(b)) ^ zlib.crc32(b)


class _CountingZlib:
    """zlib with a count of the bytes CRC'd (the decoder's work on payloads)."""

    def __init__(self) -> None:
        self.bytes = 0

    def crc32(self, data, value=0):
        self.bytes += len(data)
        return zlib.crc32(data, value)


@pytest.mark.parametrize("ends", ["stream", "random"])
def test_nested_valid_headers_cost_linear_crc_work(monkeypatch, ends):
    """Each header's payload runs past the next one and fails its CRC: a naive decoder CRCs ~n^2/40 bytes."""
    work = {}
    for size in (16 * 1024, 64 * 1024):
        counter = _CountingZlib()
        monkeypatch.setattr(framing, "zlib", counter)
        data = nested_headers(size, ends)
        decoder = StreamDecoder(max_payload=size)
        events = decoder.feed(data)
        assert len(events) == (size - 4) // 20 and all(isinstance(e, Fault) for e in events)
        assert {e.code for e in events} <= {ErrorCode.TRUNCATED, ErrorCode.BAD_CRC}
        work[size] = counter.bytes / size
    assert max(work.values()) < 48, work  # CRC'd bytes per byte received (naive: ~size / 40), the same at both sizes
    assert work[64 * 1024] < 1.5 * work[16 * 1024], work


def test_a_good_message_inside_a_nest_is_still_delivered():
    nest = bytearray(nested_headers(8000, "random", seed=4))
    bye = encode(Bye(), 42)
    nest[5000:5000] = bye
    events = Decoder(max_payload=10_000).feed(bytes(nest))
    assert [e.seq for e in events if isinstance(e, Received)] == [42]


@pytest.mark.parametrize("length", [0xFFFFFFE8, 0xFFFFFFFF, 0xFFFFFFFF - 23])
@pytest.mark.parametrize("version", [1, 2])
def test_a_length_near_4_gib_is_one_fault_and_a_64_bit_skip(length, version):
    decoder = StreamDecoder(max_payload=64)
    events = decoder.feed(pack_header(int(MsgType.FRAME), 7, length, version=version))
    assert [(e.code, e.seq) for e in events] == [(ErrorCode.BAD_VERSION if version == 2 else ErrorCode.TOO_LARGE, 7)]
    assert decoder.pending == OVERHEAD + length - 20
    assert decoder.feed(b"\x55" * 100) == [] and decoder.stats.bytes_skipped == 120
    assert decoder.expire() == [] and decoder.pending == 0
    assert decoder.stats.bytes_skipped == 120  # the skip is abandoned: bytes that never came are not counted
    (bye,) = decoder.feed(encode(Bye(), 8))
    assert bye.seq == 8 and decoder.stats.faults == 1


def test_hello_with_more_than_16_class_names_is_malformed():
    ok = Hello(Role.SCANNER, classes=tuple(f"c{i}" for i in range(16)))
    assert Hello.parse(ok.payload()).classes == ok.classes
    payload = bytearray(ok.payload())
    count_at = len(payload) - sum(2 + len(c) for c in ok.classes) - 1
    payload[count_at] = 17
    payload += b"\x03\x00c16"
    with pytest.raises(MalformedPayload, match="17 class names, at most 16"):
        Hello.parse(bytes(payload))
    (event,) = Decoder().feed(framing.pack(int(MsgType.HELLO), 3, bytes(payload)))
    assert isinstance(event, Fault) and event.code == ErrorCode.MALFORMED and event.seq == 3
    with pytest.raises(ValueError, match="at most 16"):
        Hello(Role.SCANNER, classes=tuple(f"c{i}" for i in range(17))).payload()


def test_the_buffer_is_given_back_after_a_large_message():
    """A 4 MB FRAME fed in socket-sized chunks: held while it arrives, the memory returned once it is consumed."""
    wire = framing.pack(int(MsgType.FRAME), 1, bytes(4_000_000))
    decoder = StreamDecoder(max_payload=8 << 20)
    peak = 0
    for i in range(0, len(wire), 256 * 1024):
        decoder.feed(wire[i : i + 256 * 1024])
        peak = max(peak, decoder.capacity)
    assert peak >= 4_000_000 and decoder.pending == 0 and decoder.stats.packets == 1
    assert decoder.capacity < 1024
