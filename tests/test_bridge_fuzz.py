"""Property tests: the stream decoder on random bytes and on mutated streams of random messages."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import Fault
from firmware_bridge.messages import Bye, Decoder, Error, Frame, Heartbeat, Received, Result, encode
from firmware_bridge.protocol import MAGIC, OVERHEAD, ByeReason, ErrorCode, MaskEncoding, PixelFormat
from firmware_bridge.testing.vectors import describe

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_PAYLOAD = 512

u32 = st.integers(0, 0xFFFFFFFF)
messages = st.one_of(
    st.builds(Heartbeat, st.integers(0, 2**64 - 1), u32, u32, u32, u32),
    st.builds(Bye, st.sampled_from(ByeReason)),
    st.builds(Error, st.sampled_from(ErrorCode), st.text(max_size=40), u32, u32),
    st.builds(
        Frame,
        u32,
        st.integers(0, 2**64 - 1),
        st.sampled_from(PixelFormat),
        st.integers(0, 64),
        st.integers(0, 64),
        u32,
        st.binary(max_size=300),
        st.sampled_from(MaskEncoding),
    ),  # fmt: skip
    st.builds(
        Result,
        u32,
        st.integers(0, 2**64 - 1),
        u32,
        skipped=st.lists(u32, max_size=20).map(tuple),
        mask=st.binary(max_size=60),
    ),  # fmt: skip
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def feed(decoder: Decoder, chunks: list[bytes], held: list[int] | None = None) -> list[Received | Fault]:
    out = []
    for chunk in chunks:
        out += decoder.feed(chunk)
        if held is not None:
            held.append(decoder.stream.buffered - len(chunk))
    return out


@FUZZ
@given(st.binary(max_size=4000), st.lists(st.integers(0, 4000), max_size=30))
def test_random_bytes_never_raise_and_memory_stays_bounded(data, cuts):
    decoder, held = Decoder(MAX_PAYLOAD), []
    events = feed(decoder, chunked(MAGIC + data, cuts), held)
    assert all(isinstance(e, (Received, Fault)) for e in events)
    assert max(held, default=0) <= MAX_PAYLOAD + OVERHEAD  # beyond the chunk being fed, one message at most
    decoder.expire()


@FUZZ
@given(st.lists(messages, min_size=1, max_size=6), st.lists(st.integers(0, 10_000), max_size=20))
def test_valid_stream_decodes_exactly_in_any_chunking(msgs, cuts):
    wires = [encode(m, i) for i, m in enumerate(msgs)]
    wires = [w for w in wires if len(w) - OVERHEAD <= MAX_PAYLOAD]
    events = feed(Decoder(MAX_PAYLOAD), chunked(b"".join(wires), cuts))
    assert [e.msg.payload() for e in events] == [w[20:-4] for w in wires]
    assert [e.seq for e in events] == [int.from_bytes(w[8:12], "little") for w in wires]


@FUZZ
@given(
    st.lists(messages, min_size=2, max_size=6),
    st.data(),
    st.sampled_from(["flip", "cut", "insert", "garbage"]),
)
def test_damage_to_one_message_loses_only_that_message(msgs, data, damage):
    small = [m for m in msgs if len(m.payload()) <= MAX_PAYLOAD]
    if len(small) < 2:
        return
    wires = [encode(m, i) for i, m in enumerate(small)]
    victim = data.draw(st.integers(0, len(wires) - 1))
    wire = bytearray(wires[victim])
    at = data.draw(st.integers(0, len(wire) - 1))
    if damage == "flip":
        wire[at] ^= 1 << data.draw(st.integers(0, 7))
    elif damage == "cut":
        del wire[at : at + data.draw(st.integers(1, 30))]
    elif damage == "insert":
        wire[at:at] = data.draw(st.binary(min_size=1, max_size=30))
    else:  # garbage in front of the message: it must survive whole
        wire[0:0] = data.draw(st.binary(min_size=1, max_size=60))
    stream = b"".join(wires[:victim]) + bytes(wire) + b"".join(wires[victim + 1 :])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    decoder = Decoder(MAX_PAYLOAD)
    events = feed(decoder, chunked(stream, cuts)) + decoder.expire()
    got = [(e.seq, e.msg.payload()) for e in events if isinstance(e, Received)]
    originals = [(i, w[20:-4]) for i, w in enumerate(wires)]
    untouched = [o for o in originals if o[0] != victim]
    assert [g for g in got if g[0] != victim] == untouched  # every other message, once, in order
    assert all(g in originals for g in got)  # nothing invented
    if damage == "garbage":
        assert got == originals


@FUZZ
@given(st.lists(messages, min_size=1, max_size=5), st.data())
def test_events_and_counters_do_not_depend_on_chunking(msgs, data):
    stream = bytearray(b"".join(encode(m, i) for i, m in enumerate(msgs)))
    for _ in range(data.draw(st.integers(1, 4))):  # damage anywhere: flips, cuts, inserted bytes or magics
        at = data.draw(st.integers(0, len(stream)))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "magic"]))
        if kind == "flip" and at < len(stream):
            stream[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            del stream[at : at + data.draw(st.integers(1, 40))]
        elif kind == "insert":
            stream[at:at] = data.draw(st.binary(min_size=1, max_size=30))
        else:
            stream[at:at] = MAGIC
    stream = bytes(stream)

    def run(chunks: list[bytes]) -> tuple[list[str], tuple[int, int, int]]:
        decoder = Decoder(MAX_PAYLOAD)
        lines = [describe(e) for e in feed(decoder, chunks)]
        s = decoder.stream.stats
        return lines, (s.packets, s.bad_headers, s.bytes_skipped)

    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert run([stream]) == run(chunked(stream, cuts)) == run([stream[i : i + 1] for i in range(len(stream))])


#: an ERROR with a 16-byte payload cut back to its header, a BYE right behind it (found by the damage test above)
LOST_PAYLOAD = encode(Error(ErrorCode.BAD_CRC, "\U00010000", 0, 0), 0)[:20] + encode(Bye(ByeReason.DONE), 1)


def test_a_header_whose_payload_was_lost_does_not_swallow_the_next_message():
    """The BYE's first 16 bytes and its header CRC (the same CRC-32) read as the ERROR's 16-byte payload and CRC: the
    decoder reports the ERROR cut short and still delivers the BYE (it read a malformed ERROR and lost the BYE)."""
    events = feed(Decoder(MAX_PAYLOAD), [LOST_PAYLOAD])
    assert [type(e) for e in events] == [Fault, Received]
    assert (events[0].code, events[0].seq) == (ErrorCode.TRUNCATED, 0) and events[1].seq == 1
    assert events[1].msg == Bye(ByeReason.DONE)
