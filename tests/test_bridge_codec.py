"""The bridge codec: framing, every message's round trip, each decoder fault, masks and frame checks."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from firmware_bridge.frames import FrameError, FrameLimits, check_frame, frame_image, frame_message
from firmware_bridge.framing import Fault, StreamDecoder, crc32, pack, pack_header, parse_header
from firmware_bridge.mask import MaskError, decode_mask, encode_mask, rle_decode, rle_encode
from firmware_bridge.messages import Bye, Config, Decoder, Frame, Glide, Heartbeat, Hint, Received, Result, encode
from firmware_bridge.protocol import HEADER_SIZE, MAGIC, OVERHEAD, ErrorCode, MaskEncoding, MsgType, PixelFormat
from firmware_bridge.testing.vectors import MESSAGES


def decode_all(data: bytes, max_payload: int = 1 << 20) -> list[Received | Fault]:
    return Decoder(max_payload).feed(data)


def test_crc32_is_zlib_and_has_the_standard_check_value():
    assert crc32(b"123456789") == 0xCBF43926 == zlib.crc32(b"123456789")


def test_header_layout_is_little_endian_with_its_own_checksum():
    head = pack_header(MsgType.FRAME, seq=0x01020304, length=0x0A0B0C0D, flags=0x0102)
    assert len(head) == HEADER_SIZE == 20
    assert head[:4] == MAGIC == b"TLFB"
    assert head[4:8] == bytes([1, 3, 0x02, 0x01])  # version, type, flags LE
    assert head[8:12] == bytes([4, 3, 2, 1]) and head[12:16] == bytes([0x0D, 0x0C, 0x0B, 0x0A])
    assert struct.unpack("<I", head[16:])[0] == zlib.crc32(head[:16])
    parsed = parse_header(head)
    fields = (parsed.version, parsed.type, parsed.flags, parsed.seq, parsed.length)
    assert fields == (1, 3, 0x0102, 0x01020304, 0x0A0B0C0D)
    broken = bytearray(head)
    broken[12] ^= 1
    assert parse_header(bytes(broken)) is None


def test_message_is_header_payload_and_payload_crc():
    wire = pack(MsgType.BYE, 9, b"\x00\x00")
    assert len(wire) == OVERHEAD + 2
    assert wire[20:22] == b"\x00\x00" and wire[22:] == struct.pack("<I", zlib.crc32(b"\x00\x00"))


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_message_round_trips(name):
    msg, seq = MESSAGES[name]
    events = decode_all(encode(msg, seq, flags=0x8001))
    assert len(events) == 1 and isinstance(events[0], Received)
    got = events[0]
    assert (got.seq, got.flags) == (seq, 0x8001)
    assert type(got.msg) is type(msg)
    assert got.msg.payload() == msg.payload()  # byte-identical, float32 rounding and NaN included
    if not isinstance(msg, (Result, Config, Glide, Hint)):  # the others hold no floats
        assert got.msg == msg


def test_glide_layouts_version_1_exactly_a_later_one_its_known_fields_first():
    glide = Glide(3, pairs=2, relative_px=(0.5, float("nan")))
    payload = glide.payload()
    assert len(payload) == 100
    (event,) = decode_all(pack(MsgType.GLIDE, 1, payload))
    assert event.msg.relative_px[0] == 0.5 and math.isnan(event.msg.relative_px[1]) and event.msg.pairs == 2
    later = Glide(3, pairs=2, version=2).payload() + b"new fields"
    (event,) = decode_all(pack(MsgType.GLIDE, 2, later))
    assert isinstance(event, Received) and event.msg.version == 2 and event.msg.pairs == 2
    bad = [payload + b"\x00", payload[:-1], Glide(3, version=0).payload(), later[:99]]
    events = decode_all(b"".join(pack(MsgType.GLIDE, 10 + i, b) for i, b in enumerate(bad)))
    assert [(e.code, e.seq) for e in events] == [(ErrorCode.MALFORMED, 10 + i) for i in range(4)]


def test_hint_layouts_version_1_exactly_a_later_one_its_known_fields_first():
    payload = Hint((2.5, 8.0)).payload()
    assert len(payload) == 14 and payload[:2] == b"\x01\x00"  # u16 version, then lo, hi, hint as f32
    (event,) = decode_all(pack(MsgType.HINT, 1, payload))
    assert event.msg.range_mm == (2.5, 8.0) and math.isnan(event.msg.hint_mm) and event.msg.version == 1
    later = Hint(hint_mm=4.75, version=3).payload() + b"new fields"
    (event,) = decode_all(pack(MsgType.HINT, 2, later))
    assert isinstance(event, Received) and event.msg.version == 3 and event.msg.hint_mm == 4.75
    bad = [payload + b"\x00", payload[:-1], b"", Hint(version=0).payload(), later[:13]]
    events = decode_all(b"".join(pack(MsgType.HINT, 10 + i, b) for i, b in enumerate(bad)) + encode(Bye(), 20))
    assert [(e.code, e.seq) for e in events[:-1]] == [(ErrorCode.MALFORMED, 10 + i) for i in range(len(bad))]
    assert all("HINT" in e.detail for e in events[:-1]) and isinstance(events[-1].msg, Bye)


def test_result_floats_and_nan_survive():
    r = Result(5, thickness_mm=1.5, thickness_px=float("nan"), echo_fascia=200.25, coverage=0.5)
    (got,) = decode_all(encode(r, 1))
    assert (got.msg.thickness_mm, got.msg.echo_fascia, got.msg.coverage) == (1.5, 200.25, 0.5)
    assert math.isnan(got.msg.thickness_px) and math.isnan(got.msg.confidence)  # NaN: no value


def test_config_floats_are_float32():
    (got,) = decode_all(encode(Config((1, 2, 3, 4), 0.1, 0.2, 0.3), 0))
    assert got.msg.roi == (1, 2, 3, 4)
    assert got.msg.mm_per_px == pytest.approx(0.1, rel=1e-7) and got.msg.mm_per_px != 0.1


def test_garbage_before_between_and_after_messages_is_skipped():
    a, b = encode(Heartbeat(1), 1), encode(Heartbeat(2), 2)
    garbage = b"\x00TLF\xffTL" * 3
    events = decode_all(garbage + a + garbage + b + garbage)
    assert [e.msg.timestamp_us for e in events] == [1, 2]


def test_bad_crc_is_reported_and_the_next_message_decodes():
    bad = bytearray(encode(Heartbeat(1), 7))
    bad[-6] ^= 0x10
    events = decode_all(bytes(bad) + encode(Bye(), 8))
    assert isinstance(events[0], Fault) and (events[0].code, events[0].seq) == (ErrorCode.BAD_CRC, 7)
    assert isinstance(events[1].msg, Bye)


def test_lost_byte_drops_only_that_message():
    first = encode(Heartbeat(1), 1)
    damaged = first[:30] + first[31:]  # a byte lost on the line: its span now ends inside the next message
    events = decode_all(damaged + encode(Heartbeat(2), 2))
    assert [type(e) for e in events] == [Fault, Received]
    assert (events[0].code, events[0].seq) == (ErrorCode.BAD_CRC, 1) and events[1].msg.timestamp_us == 2


def test_message_cut_short_is_truncated_when_the_next_begins_inside_it():
    frame = encode(Frame(1, 0, PixelFormat.GREY8, 8, 8, 8, bytes(64)), 1)
    events = decode_all(frame[:40] + encode(Heartbeat(2), 2) + encode(Bye(), 3))
    assert (events[0].code, events[0].seq) == (ErrorCode.TRUNCATED, 1)
    assert [e.seq for e in events[1:]] == [2, 3]


def test_wrong_version_is_skipped_by_its_announced_length():
    other = pack_header(MsgType.HEARTBEAT, 3, 24, version=2) + bytes(28)
    events = decode_all(other + encode(Bye(), 4))
    assert events[0].code == ErrorCode.BAD_VERSION and events[0].seq == 3
    assert isinstance(events[1].msg, Bye)


def test_oversize_payload_is_skipped_without_being_buffered():
    decoder = StreamDecoder(max_payload=1000)
    big = pack(MsgType.FRAME, 5, bytes(50_000))
    events, held = [], 0
    for i in range(0, len(big), 4096):
        events += decoder.feed(big[i : i + 4096])
        held = max(held, decoder.buffered)
    assert [(e.code, e.seq) for e in events] == [(ErrorCode.TOO_LARGE, 5)]
    assert held <= 4096 and decoder.pending == 0
    assert decoder.feed(pack(MsgType.BYE, 6, b"\x00\x00"))[0].seq == 6


def test_unknown_type_and_malformed_payloads_are_faults():
    events = decode_all(pack(200, 1, b"?") + pack(MsgType.BYE, 2, b"\x00") + pack(MsgType.BYE, 3, b"\x09\x00"))
    assert [(e.code, e.seq) for e in events] == [
        (ErrorCode.UNKNOWN_TYPE, 1),
        (ErrorCode.MALFORMED, 2),  # one byte short
        (ErrorCode.MALFORMED, 3),  # reason 9 is not in the table
    ]


def test_result_with_too_many_skipped_ids_is_refused_both_ways():
    with pytest.raises(ValueError, match="skipped"):
        Result(1, skipped=tuple(range(2000))).payload()
    raw = bytearray(Result(1).payload())
    struct.pack_into("<H", raw, 4 + 8 + 4 + 8 + 8 * 4 + 7 * 4, 2000)  # the skipped-id count
    (event,) = decode_all(pack(MsgType.RESULT, 1, bytes(raw)))
    assert event.code == ErrorCode.MALFORMED


def test_expire_reports_a_message_cut_short_on_a_quiet_line():
    decoder = Decoder()
    wire = encode(Heartbeat(5), 11)
    assert decoder.feed(wire[:-3]) == [] and decoder.pending == len(wire) - 3
    (fault,) = decoder.expire()
    assert (fault.code, fault.seq) == (ErrorCode.TRUNCATED, 11)
    assert decoder.feed(encode(Bye(), 12))[0].msg == Bye()


def test_text_fields_with_bad_utf8_decode_with_replacement():
    payload = struct.pack("<HII", 7, 1, 2) + struct.pack("<H", 2) + b"\xff\xfe"
    (event,) = decode_all(pack(MsgType.ERROR, 0, payload))
    assert event.msg.code == ErrorCode.BAD_FRAME and event.msg.text == "\ufffd\ufffd"


# -- masks ---------------------------------------------------------------------------------------


def test_rle_round_trip_and_size(phantom):
    labels = phantom.frame(3).labels.copy()
    labels[labels == 255] = 2
    data = rle_encode(labels)
    assert len(data) < labels.size / 50  # a 3-class band map compresses to a few runs per row
    np.testing.assert_array_equal(rle_decode(data, labels.shape[1], labels.shape[0]), labels)


def test_rle_layout_is_value_then_uleb128_length():
    labels = np.array([[0] * 200 + [1] * 3], np.uint8)
    assert rle_encode(labels) == bytes([0, 0xC8, 0x01, 1, 3])


@pytest.mark.parametrize(
    "data, why",
    [(bytes([0, 5]), "cover 5"), (bytes([0, 7]), "more than"), (bytes([0, 0x80]), "cut short")],
)
def test_rle_decode_refuses_runs_that_do_not_fit(data, why):
    with pytest.raises(MaskError, match=why):
        rle_decode(data, 3, 2)


def test_png_mask_round_trip():
    labels = np.random.default_rng(0).integers(0, 3, (40, 30), dtype=np.uint8)
    data = encode_mask(labels, MaskEncoding.PNG)
    assert data[:4] == b"\x89PNG"
    np.testing.assert_array_equal(decode_mask(data, MaskEncoding.PNG, 30, 40), labels)
    with pytest.raises(MaskError):
        decode_mask(data, MaskEncoding.PNG, 31, 40)
    assert decode_mask(b"", MaskEncoding.NONE, 0, 0) is None


# -- frames --------------------------------------------------------------------------------------


def test_raw_frames_round_trip_with_padded_stride(phantom):
    image = phantom.frame(0).image
    msg = frame_message(image, 1, 99)
    assert (msg.format, msg.stride, len(msg.data)) == (PixelFormat.BGR8, 640 * 3, 640 * 480 * 3)
    np.testing.assert_array_equal(frame_image(msg, FrameLimits()), image)
    padded = np.zeros((480, 2000), np.uint8)
    padded[:, : 640 * 3] = image.reshape(480, -1)
    strided = Frame(2, 0, PixelFormat.BGR8, 640, 480, 2000, padded.tobytes())
    np.testing.assert_array_equal(frame_image(strided, FrameLimits()), image)
    grey = image[..., 1].copy()
    np.testing.assert_array_equal(frame_image(frame_message(grey, 3), FrameLimits()), grey)


def test_compressed_frames_decode_to_what_opencv_decodes(phantom):
    image = phantom.frame(0).image
    for fmt in (PixelFormat.JPEG, PixelFormat.PNG):
        msg = frame_message(image, 1, fmt=fmt)
        assert (msg.width, msg.height, msg.stride) == (640, 480, 0)
        expected = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(frame_image(msg, FrameLimits()), expected)
    np.testing.assert_array_equal(frame_image(frame_message(image, 1, fmt=PixelFormat.PNG), FrameLimits()), image)


def test_frame_checks_name_the_problem(phantom):
    image = phantom.frame(0).image
    png = frame_message(image, 1, fmt=PixelFormat.PNG)
    jpeg = frame_message(image, 1, fmt=PixelFormat.JPEG)
    cases = [
        (Frame(1, 0, PixelFormat.GREY8, 5000, 10, 5000, bytes(50_000)), "5000x10 is over the limit of 2048x2048"),
        (Frame(1, 0, PixelFormat.GREY8, 0, 10, 0, b""), "0x10 is too small: at least 1x1"),
        (Frame(1, 0, PixelFormat.GREY8, 5, 2, 4, bytes(8)), "stride 4 is less"),
        (Frame(1, 0, PixelFormat.BGR8, 5, 2, 15, bytes(29)), "29 data bytes"),
        (Frame(1, 0, PixelFormat.PNG, 320, 480, 0, png.data), "640x480, the frame says 320x480"),
        (Frame(1, 0, PixelFormat.JPEG, 640, 48, 0, jpeg.data), "640x480, the frame says 640x48"),
        (Frame(1, 0, PixelFormat.PNG, 640, 480, 0, jpeg.data), "PNG signature"),
        (Frame(1, 0, PixelFormat.JPEG, 640, 480, 0, b"\xff\xd8\x00garbage"), "corrupt"),
        (Frame(1, 0, PixelFormat.JPEG, 640, 480, 0, b"\xff\xd8"), "SOF"),
    ]
    for frame, why in cases:
        with pytest.raises(FrameError, match=why):
            check_frame(frame, FrameLimits(2048, 2048, min_width=1, min_height=1))  # the other checks
    # a PNG that claims a huge size in its header is refused before it is decoded
    bomb = bytearray(png.data)
    bomb[16:24] = (60000).to_bytes(4, "big") * 2
    with pytest.raises(FrameError, match="60000x60000 is over the limit"):
        check_frame(Frame(1, 0, PixelFormat.PNG, 60000, 60000, 0, bytes(bomb)), FrameLimits())
    with pytest.raises(FrameError, match="does not decode"):
        frame_image(Frame(1, 0, PixelFormat.PNG, 640, 480, 0, png.data[:200]), FrameLimits())


def test_codec_modules_import_neither_opencv_nor_litert_nor_numpy():
    code = (
        "import sys; import firmware_bridge.messages, firmware_bridge.framing, firmware_bridge.testing.vectors; "
        "bad = {'cv2', 'numpy', 'ai_edge_litert', 'tflite_runtime', 'tensorflow'} & set(sys.modules); "
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_frames_under_the_minimum_size_are_refused_by_default():
    for w, h in ((1, 1), (7, 480), (640, 7)):
        with pytest.raises(FrameError, match=f"frame {w}x{h} is too small: at least 8x8 pixels"):
            check_frame(Frame(1, 0, PixelFormat.GREY8, w, h, w, bytes(w * h)), FrameLimits())
    check_frame(Frame(1, 0, PixelFormat.GREY8, 8, 8, 8, bytes(64)), FrameLimits())
