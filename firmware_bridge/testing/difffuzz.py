"""Differential fuzzing of the C reference against the Python decoder: one shared corpus, the same event lines.

A corpus is a list of records (byte streams): random bytes, streams of valid messages with damage, headers that
lie about their length (up to 4 GiB), and crafted nested valid headers (each payload running past the next header,
each CRC wrong). ``python_line`` and the C reference's ``--corpus`` mode (`firmware_bridge/c/test_vectors.c`) both
turn a record into ``"event,event,...,stats <packets> <bad headers> <bytes skipped>"``; they must be identical.
Used by tests/test_bridge_vectors.py (CI-sized) and benchmarks/bridge_difffuzz.py (1e6 records).
"""

from __future__ import annotations

import random
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from firmware_bridge.framing import pack, pack_header
from firmware_bridge.mask import MaskError, rle_decode, rle_encode
from firmware_bridge.messages import Decoder
from firmware_bridge.protocol import MAGIC, OVERHEAD, MsgType
from firmware_bridge.testing.cbuild import CBuild
from firmware_bridge.testing.vectors import describe, message_vectors

C_MAX_PAYLOAD = 64 * 1024  #: the --corpus mode's decoder buffer holds payloads up to this
PAYLOAD_LIMITS = (48, 512, 4096)  #: the decoder limits every record is decoded with
HUGE_LENGTHS = (0xFFFFFFE8, 0xFFFFFFFF, 0xFFFFFFFF - 23, 0x80000000, 0x7FFFFFFF)
LAST_TYPE = max(MsgType)  #: random payloads go under every known type and the first unknown one


def nested_headers(size: int, ends: str = "stream", seed: int = 0, block: int | None = None, step: int = 1024) -> bytes:
    """Valid headers back to back, each announcing a payload past the next header, every payload CRC wrong.

    The stream is cut into blocks of `block` bytes (default: one block), so that every payload fits a decoder whose
    messages may be `block` bytes. The payloads end at `ends`: "stream": the block's end (the quadratic case of a naive
    decoder); "random": somewhere between the next header and the block's end (exercises resync from marks); "marks":
    the first at the block's end, the others one byte before a resync mark (every `step` bytes from the block's first
    payload byte) somewhere ahead: the most CRC work a header can ask of a decoder with marks `step` apart."""
    rng = random.Random(seed)
    block = block or size
    out = bytearray()
    for at in range(0, size, block):
        span = min(block, size - at)
        base, count = 20, (span - 4) // 20  # the first payload byte, from the block's start
        for i in range(count):
            left = span - 20 * i - OVERHEAD  # the payload that reaches the end of the block
            if ends == "stream" or (ends == "marks" and i == 0):
                length = left
            elif ends == "random":
                length = rng.randint(min(20, left), left)
            else:
                first, last = (20 * i - base) // step + 1, (span - 4 - base) // step  # marks past the front
                end = base + rng.randint(first, last) * step - 1 if first <= last else span - 4
                length = max(0, end - 20 * (i + 1))
            out += pack_header(int(MsgType.FRAME), at + i, length)
        out += b"\xff" * (at + span - len(out))  # no payload CRC matches (CRC-32 of nothing is 0, not 0xFFFFFFFF)
    return bytes(out)


def mutate(rng: random.Random, data: bytearray) -> bytearray:
    """Up to 6 kinds of damage: bit flips, cuts, inserted bytes or magics, doubled runs, headers lying about length."""
    for _ in range(rng.randint(0, 6)):
        at = rng.randrange(len(data) + 1)
        kind = rng.choice(("flip", "cut", "insert", "magic", "dup", "length"))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            del data[at : at + rng.randint(1, 40)]
        elif kind == "insert":
            data[at:at] = rng.randbytes(rng.randint(1, 30))
        elif kind == "magic":
            data[at:at] = MAGIC
        elif kind == "dup":
            data[at:at] = data[at : at + rng.randint(1, 60)]
        else:  # a header that lies about its length, its header CRC right
            length = rng.choice((rng.randrange(1 << 32), rng.randint(0, 5000), *HUGE_LENGTHS))
            data[at:at] = pack_header(
                rng.randint(1, LAST_TYPE), rng.randrange(1 << 32), length, version=rng.choice((1, 1, 2))
            )
    return data


def corpus(n: int, seed: int = 0) -> Iterator[bytes]:
    """`n` records, reproducible from `seed`: a mix of every kind above, at most a few KiB each."""
    rng = random.Random(seed)
    vectors = list(message_vectors().values())
    for _ in range(n):
        kind = rng.random()
        if kind < 0.15:
            data = bytearray(rng.randbytes(rng.randint(0, 400)))
            for _ in range(rng.randint(0, 4)):
                at = rng.randrange(len(data) + 1)
                data[at:at] = MAGIC
        elif kind < 0.75:
            data = bytearray(b"".join(rng.choice(vectors) for _ in range(rng.randint(1, 8))))
            if rng.random() < 0.3:
                data += pack(rng.randint(1, LAST_TYPE + 1), rng.randrange(1 << 32), rng.randbytes(rng.randint(0, 600)))
        elif kind < 0.9:
            length = rng.choice(HUGE_LENGTHS)
            data = bytearray(pack_header(int(MsgType.FRAME), 5, length, version=rng.choice((1, 2))))
            data += rng.randbytes(rng.randint(0, 100)) + rng.choice(vectors)
        else:
            data = bytearray(nested_headers(rng.randint(30, 3000), rng.choice(("stream", "random")), rng.randrange(99)))
            if rng.random() < 0.5:  # a good message inside the nest: it must still be found
                at = rng.randrange(len(data) + 1)
                data[at:at] = rng.choice(vectors)
        yield bytes(mutate(rng, data))


def rle_records(n: int, seed: int = 0) -> Iterator[bytes]:
    """`n` RLE masks, each after its pixel count (u32): random runs covering it, each length in its shortest form or
    padded to 5 varint bytes (then, half the time, with bits above 32 set), some bytes flipped, inserted or cut."""
    rng = random.Random(seed)
    for _ in range(n):
        pixels = rng.randint(0, 40) * rng.randint(0, 40)
        data, left = bytearray(), pixels
        while left:
            run = rng.randint(1, left)
            left -= run
            if rng.random() < 0.3:  # padded: 5 bytes, the last holding bits 28-34
                high = rng.randrange(1, 8) if rng.random() < 0.5 else 0
                data.append(rng.randrange(3))
                data += bytes((run >> s & 0x7F) | 0x80 for s in (0, 7, 14, 21)) + bytes([run >> 28 | high << 4])
            else:
                data += rle_encode(np.full((1, run), rng.randrange(3), np.uint8))
        for _ in range(rng.randint(1, 2) if rng.random() < 0.3 else 0):
            at = rng.randrange(len(data) + 1)
            kind = rng.choice(("flip", "insert", "cut"))
            if kind == "flip" and at < len(data):
                data[at] ^= 1 << rng.randrange(8)
            elif kind == "insert":
                data[at:at] = rng.randbytes(rng.randint(1, 6))
            else:
                del data[at : at + rng.randint(1, 6)]
        yield struct.pack("<I", pixels) + bytes(data)


def write_corpus(path: Path, records: list[bytes]) -> Path:
    path.write_bytes(b"".join(struct.pack("<I", len(r)) + r for r in records))
    return path


def python_line(record: bytes, max_payload: int) -> str:
    """The Python decoder's events and counters for one record, as the C --corpus mode writes them."""
    decoder = Decoder(max_payload)
    events = "".join(f"{describe(e)}," for e in decoder.feed(record))
    s = decoder.stream.stats
    return f"{events}stats {s.packets} {s.bad_headers} {s.bytes_skipped}"


def python_rle_line(record: bytes) -> str:
    """The Python mask decoder's verdict on one `rle_records` record, as the C --rle mode writes it."""
    (pixels,) = struct.unpack_from("<I", record)
    try:
        labels = rle_decode(record[4:], pixels, 1)
    except MaskError:
        return "bad"
    return f"ok {zlib.crc32(labels.tobytes()):08x}"


def rle_differences(build: CBuild, records: list[bytes], corpus_file: Path) -> list[tuple[int, str, str]]:
    """The (record index, C line, Python line) of every RLE mask the two decode differently."""
    write_corpus(corpus_file, records)
    c_out = c_lines(build, ["--rle", str(corpus_file)], len(records))
    return [(i, c, p) for i, (c, r) in enumerate(zip(c_out, records)) if c != (p := python_rle_line(r))]


def c_lines(build: CBuild, args: list[str], records: int, timeout: float = 600) -> list[str]:
    """The C program's line for each of the `records` of a corpus file, run with `args` (--corpus LIMIT FILE, --rle
    FILE)."""
    run = subprocess.run([str(build.exe), *args], capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"C {args[0]} failed (rc {run.returncode}): {run.stderr[-2000:]}")
    lines = run.stdout.splitlines()
    if len(lines) != records:
        raise RuntimeError(f"C gave {len(lines)} lines for {records} records")
    return lines


def differences(build: CBuild, records: list[bytes], corpus_file: Path, limits=PAYLOAD_LIMITS) -> dict[int, list]:
    """Per payload limit, the (record index, C line, Python line) of every record the two decode differently."""
    write_corpus(corpus_file, records)
    out = {}
    for limit in limits:
        c_out = c_lines(build, ["--corpus", str(limit), str(corpus_file)], len(records))
        out[limit] = [(i, c, p) for i, (c, r) in enumerate(zip(c_out, records)) if c != (p := python_line(r, limit))]
    return out
