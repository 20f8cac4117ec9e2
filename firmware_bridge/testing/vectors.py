"""Shared test vectors: byte files made by this codec that the Python tests and the C reference both check.

    python -m firmware_bridge.testing.vectors tests/vectors      # (re)write them

Each ``<name>.bin`` is one message (``glide_v2.bin``, ``hint_v2.bin``: a GLIDE and a HINT of a later layout, fields
appended, that a version-1 reader parses to its known fields); ``stream.bin`` is a damaged stream, and
``stream_expected.txt`` lists what a decoder with a 4096-byte payload limit must make of it: ``M <type> <seq>`` for
a message that decodes, ``F <code> <seq>`` for a fault, then ``stats <packets> <bad headers> <bytes skipped>``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from firmware_bridge.framing import Fault, pack, pack_header
from firmware_bridge.messages import (
    NAN,
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
    StageLatency,
    encode,
)
from firmware_bridge.protocol import (
    NO_ID,
    ByeReason,
    ErrorCode,
    GlideFlag,
    HelloFlag,
    MaskEncoding,
    MsgType,
    PixelFormat,
    Quality,
    Role,
)

STREAM_MAX_PAYLOAD = 4096
TIMESTAMP = 1_234_567_890_123

#: the 20x15 class map in result.bin: 140 x 0, 40 x 1, 120 x 2 (row-major; 140 needs a two-byte run length)
MASK_W, MASK_H = 20, 15
MASK_RUNS = ((0, 140), (1, 40), (2, 120))


def _mask_rle() -> bytes:
    out = bytearray()
    for value, n in MASK_RUNS:
        out.append(value)
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


#: name -> (message, sequence number)
MESSAGES: dict[str, tuple[Message, int]] = {
    "hello_scanner": (
        Hello(
            Role.SCANNER,
            max_payload=65536,
            pixel_formats=(PixelFormat.GREY8, PixelFormat.BGR8),
            mask_encodings=(MaskEncoding.RLE,),
            software="fw-demo 1.0",
        ),
        0,
    ),
    "hello_runtime": (
        Hello(
            Role.RUNTIME,
            max_width=2048,
            max_height=2048,
            max_payload=8388608,
            input_width=256,
            input_height=256,
            pixel_formats=tuple(PixelFormat),
            mask_encodings=tuple(MaskEncoding),
            software="tlfseg test",
            model="tlfseg_unet_int8.tflite int8",
            classes=("above", "fascia", "below"),
        ),
        0,
    ),
    "config": (Config(roi=(110, 40, 400, 420), mm_per_px=0.075, min_coverage=0.5, min_confidence=0.6), 1),
    "frame_grey8": (Frame(7, TIMESTAMP, PixelFormat.GREY8, 5, 3, 8, bytes(range(24)), MaskEncoding.RLE), 2),
    "frame_bgr8": (Frame(8, TIMESTAMP + 33_333, PixelFormat.BGR8, 2, 2, 6, bytes(range(100, 112))), 3),
    "result": (
        Result(
            frame_id=7,
            timestamp_us=TIMESTAMP,
            quality=int(Quality.LOW_CONFIDENCE | Quality.ROI_DETECTED),
            roi=(0, 0, MASK_W, MASK_H),
            thickness_mm=1.25,
            thickness_px=12.5,
            thickness_iqr_px=1.5,
            coverage=0.875,
            confidence=0.5,
            echo_fascia=143.5,
            echo_above=60.25,
            echo_below=80.0,
            latency=StageLatency(1, 2, 3, 4, 5, 6, 7),
            skipped=(3, 4, 6),
            mask_encoding=MaskEncoding.RLE,
            mask_width=MASK_W,
            mask_height=MASK_H,
            mask=_mask_rle(),
        ),
        5,
    ),
    "result_skips_only": (Result(NO_ID, skipped=(9, 10)), 6),
    "error": (Error(ErrorCode.BAD_FRAME, "stride 4 is less than width x 1 = 5 bytes", ref_seq=2, frame_id=7), 7),
    "heartbeat": (Heartbeat(1_000_000, 10, 8, 2, 1), 8),
    "bye": (Bye(ByeReason.DONE), 9),
    "hello_scanner_glide": (Hello(Role.SCANNER, max_payload=65536, software="fw-demo 1.1"), 10),
    "glide": (
        Glide(
            frame_id=7,
            flags=0,
            pairs=41,
            flagged=3,
            cycles=2,
            relative_px=(0.5, -0.25),
            relative_mm=(0.0375, -0.01875),
            strain_pct=(3.75, -1.875),
            distance_px=(13.25, 12.75),
            shear_px=(19.5, 18.0),
            shear_mm=(1.4625, 1.35),
            shear_strain_pct=(147.25, 141.5),
            cycle_shear_px=(11.75, 10.5),
            cycle_shear_mm=(0.88125, 0.7875),
            cycle_strain_pct=(88.5, 82.25),
        ),
        11,
    ),
    "glide_flagged": (Glide(frame_id=8, flags=int(GlideFlag.NO_PREVIOUS | GlideFlag.OTHER), flagged=1), 12),
    "hello_scanner_hint": (Hello(Role.SCANNER, max_payload=65536, software="fw-demo 1.2"), 14),
    "hint": (Hint(range_mm=(2.5, 8.0), hint_mm=4.75), 15),
    "hint_range_only": (Hint(range_mm=(20.0, 30.0), hint_mm=NAN), 16),
    # bit 10 (assigned after version 1 shipped) with OTHER: not good for firmware that knows only bits 0-7 either
    "result_unfamiliar": (
        Result(
            frame_id=9,
            timestamp_us=TIMESTAMP,
            quality=int(Quality.UNFAMILIAR | Quality.OTHER | Quality.NO_SCALE),
            roi=(0, 0, MASK_W, MASK_H),
            thickness_px=12.5,
            thickness_iqr_px=1.5,
            coverage=0.875,
            confidence=0.5,
        ),
        18,
    ),
}
#: header flags of the vectors that have any (the HELLOs asking for the gliding and the hint extensions)
FLAGS: dict[str, int] = {
    "hello_scanner_glide": int(HelloFlag.GLIDE),
    "hello_scanner_hint": int(HelloFlag.GLIDE | HelloFlag.HINT),
}
#: later layouts (version 2): name -> (the vector whose version-1 fields it carries, sequence number); 8 bytes a
#: version-1 reader ignores follow those fields
LATER: dict[str, tuple[str, int]] = {"glide_v2": ("glide", 13), "hint_v2": ("hint", 17)}


def describe(event: Received | Fault) -> str:
    """One decoder event as the expected-events files write it: ``M <type> <seq>`` or ``F <code> <seq>``."""
    if isinstance(event, Fault):
        return f"F {int(event.code)} {event.seq}"
    return f"M {int(event.msg.TYPE)} {event.seq}"


def decoder_lines(data: bytes, max_payload: int) -> list[str]:
    """The events and closing stats line a decoder with `max_payload` reports for `data`."""
    decoder = Decoder(max_payload)
    lines = [describe(e) for e in decoder.feed(data)]
    s = decoder.stream.stats
    return [*lines, f"stats {s.packets} {s.bad_headers} {s.bytes_skipped}"]


def later_layout(name: str) -> bytes:
    """The wire bytes of LATER[name]: its vector's message as layout version 2, with 8 bytes appended."""
    base, seq = LATER[name]
    later = replace(MESSAGES[base][0], version=2)
    return pack(int(later.TYPE), seq, later.payload() + bytes(range(1, 9)))


def message_vectors() -> dict[str, bytes]:
    out = {name: encode(msg, seq, FLAGS.get(name, 0)) for name, (msg, seq) in MESSAGES.items()}
    return {**out, **{name: later_layout(name) for name in LATER}}


def stream_vector() -> tuple[bytes, list[str]]:
    """A stream with every kind of damage, and the events a decoder must report for it."""
    parts: list[bytes] = []
    expected: list[str] = []

    def good(msg: Message, seq: int) -> None:
        parts.append(encode(msg, seq))
        expected.append(f"M {int(msg.TYPE)} {seq}")

    parts.append(b"\x00\xff line noise TLF TL")  # garbage with partial magics
    good(Heartbeat(42), 20)
    bad_crc = bytearray(encode(Heartbeat(43), 21))
    bad_crc[25] ^= 0x01  # a payload bit flipped
    parts.append(bytes(bad_crc))
    expected.append(f"F {int(ErrorCode.BAD_CRC)} 21")
    frame = encode(Frame(1, 0, PixelFormat.GREY8, 4, 4, 4, bytes(16)), 22)
    parts.append(frame[:30])  # cut after 10 payload bytes; the next message starts inside its announced span
    expected.append(f"F {int(ErrorCode.TRUNCATED)} 22")
    good(MESSAGES["hello_scanner"][0], 23)
    parts.append(pack_header(int(MsgType.HEARTBEAT), 24, 24, version=2) + bytes(28))
    expected.append(f"F {int(ErrorCode.BAD_VERSION)} 24")
    parts.append(pack_header(int(MsgType.FRAME), 25, 5000) + b"\x55" * 5004)  # over the limit: skipped unbuffered
    expected.append(f"F {int(ErrorCode.TOO_LARGE)} 25")
    parts.append(pack(99, 26, b"what is this"))
    expected.append(f"F {int(ErrorCode.UNKNOWN_TYPE)} 26")
    parts.append(pack(int(MsgType.BYE), 27, b"\x00\x00\x00"))  # BYE with a byte too many
    expected.append(f"F {int(ErrorCode.MALFORMED)} 27")
    bad_header = bytearray(encode(Bye(), 99))
    bad_header[9] ^= 0x40  # sequence byte changed: the header checksum fails, the bytes are skipped silently
    parts.append(bytes(bad_header))
    good(Config(), 28)
    good(Bye(), 29)
    parts.append(b"TLFB\x01")  # a message that has only begun when the stream ends: held, not reported

    data = b"".join(parts)
    lines = decoder_lines(data, STREAM_MAX_PAYLOAD)
    if lines[:-1] != expected:
        raise RuntimeError(f"the decoder reports {lines[:-1]}, the stream was built to give {expected}")
    return data, lines


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in message_vectors().items():
        (folder / f"{name}.bin").write_bytes(data)
        written.append(folder / f"{name}.bin")
    stream, expected = stream_vector()
    (folder / "stream.bin").write_bytes(stream)
    (folder / "stream_expected.txt").write_text(f"max_payload {STREAM_MAX_PAYLOAD}\n" + "\n".join(expected) + "\n")
    written += [folder / "stream.bin", folder / "stream_expected.txt"]
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/vectors")):
        print(path)
