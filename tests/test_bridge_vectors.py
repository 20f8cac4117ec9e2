"""Shared test vectors: the committed byte files, the Python codec, and the C reference must all agree."""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from test_bridge_fuzz import LOST_PAYLOAD

from firmware_bridge.messages import Decoder, Received
from firmware_bridge.testing.cbuild import CBuild, CUnavailable, build_c
from firmware_bridge.testing.difffuzz import corpus, differences, mutate, python_rle_line, rle_differences, rle_records
from firmware_bridge.testing.vectors import (
    FLAGS,
    LATER,
    MESSAGES,
    STREAM_MAX_PAYLOAD,
    decoder_lines,
    describe,
    message_vectors,
    stream_vector,
)

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"


def test_committed_vectors_are_what_the_codec_writes():
    for name, data in message_vectors().items():
        assert (VECTORS / f"{name}.bin").read_bytes() == data, f"{name}.bin differs; regenerate the vectors"
    stream, lines = stream_vector()
    assert (VECTORS / "stream.bin").read_bytes() == stream
    expected = (VECTORS / "stream_expected.txt").read_text().splitlines()
    assert expected == [f"max_payload {STREAM_MAX_PAYLOAD}", *lines]


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_vector_files_decode_to_their_messages(name):
    msg, seq = MESSAGES[name]
    (event,) = Decoder().feed((VECTORS / f"{name}.bin").read_bytes())
    assert isinstance(event, Received) and event.seq == seq and event.msg.payload() == msg.payload()
    assert event.flags == FLAGS.get(name, 0)


@pytest.mark.parametrize("name", sorted(LATER))
def test_a_message_of_a_later_layout_reads_as_its_version_1_fields(name):
    """GLIDE and HINT of layout version 2 (8 bytes appended): the fields version 1 knows, the rest left unread."""
    base, seq = LATER[name]
    want = MESSAGES[base][0]
    (event,) = Decoder().feed((VECTORS / f"{name}.bin").read_bytes())
    assert isinstance(event, Received) and type(event.msg) is type(want) and event.seq == seq
    assert event.msg.version == 2 and event.msg.payload() == replace(want, version=2).payload()


def test_stream_vector_gives_the_expected_events_in_any_chunking():
    data = (VECTORS / "stream.bin").read_bytes()
    expected = (VECTORS / "stream_expected.txt").read_text().splitlines()[1:]
    rng = random.Random(0)
    for _ in range(20):
        decoder, lines, i = Decoder(STREAM_MAX_PAYLOAD), [], 0
        while i < len(data):
            n = rng.randint(1, 300)
            lines += [describe(e) for e in decoder.feed(data[i : i + n])]
            i += n
        s = decoder.stream.stats
        assert [*lines, f"stats {s.packets} {s.bad_headers} {s.bytes_skipped}"] == expected


@pytest.fixture(scope="module", params=["64-bit", "32-bit"])
def c_program(request, tmp_path_factory) -> CBuild:
    """The C reference's test program, strict C99, with ASan and UBSan where the toolchain has them, for a 64-bit
    and a 32-bit target (size_t of 4 bytes, as on the microcontrollers it is written for: needs gcc-multilib)."""
    try:
        build = build_c(tmp_path_factory.mktemp("c"), request.param)
    except CUnavailable as exc:
        pytest.skip(f"C reference, {request.param}: {exc}")
    return build


def test_c_reference_passes_the_vectors(c_program):
    run = subprocess.run([str(c_program.exe), str(VECTORS)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "checks passed" in run.stdout and int(run.stdout.split()[1]) > 600


def test_c_and_python_decoders_agree_on_damaged_streams(c_program, tmp_path):
    """Random damage (flips, cuts, inserts, magics, length lies) to streams of valid messages: the same events."""
    rng = random.Random(1)
    vectors = list(message_vectors().values())
    streams = []
    for i in range(60):
        data = mutate(rng, bytearray(b"".join(rng.choice(vectors) for _ in range(rng.randint(1, 8)))))
        path = tmp_path / f"s{i}.bin"
        path.write_bytes(bytes(data))
        streams.append((path, bytes(data)))
    lost = tmp_path / "lost_payload.bin"  # a header whose 16-byte payload and CRC were cut away, a BYE behind it
    lost.write_bytes(LOST_PAYLOAD)
    streams.append((lost, LOST_PAYLOAD))
    max_payload = 48  # some vectors (HELLO from the runtime, RESULT, ERROR) are TOO_LARGE
    run = subprocess.run(
        [str(c_program.exe), "--events", str(max_payload), *(str(p) for p, _ in streams)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    blocks = run.stdout.split("== ")[1:]
    assert len(blocks) == len(streams)
    for block, (path, data) in zip(blocks, streams):
        c_lines = block.splitlines()[1:]
        assert c_lines == decoder_lines(data, max_payload), f"C and Python disagree on {path.name}"


def test_c_and_python_decoders_agree_on_a_shared_corpus(c_program, tmp_path):
    """Random, damaged, length-lying (up to 4 GiB) and nested-header records at three payload limits: identical."""
    records = list(corpus(1500, seed=16))
    diffs = differences(c_program, records, tmp_path / "corpus.bin")
    assert {limit: d[:3] for limit, d in diffs.items() if d} == {}


def test_c_and_python_mask_decoders_give_the_same_verdicts(c_program, tmp_path):
    """Issue 25: the C decoder dropped a 5-byte run length's bits above 32 and accepted masks Python refuses (6,759 of
    20,000 random masks, e.g. 018080808030 for a 0-pixel mask). Now the same verdict and pixels on every mask."""
    records = [(0).to_bytes(4, "little") + bytes.fromhex("018080808030"), *rle_records(20_000, seed=25)]
    verdicts = Counter("ok" if p.startswith("ok") else "bad" for p in map(python_rle_line, records))
    assert verdicts["ok"] > 2000 and verdicts["bad"] > 2000  # both kinds well represented
    assert rle_differences(c_program, records, tmp_path / "masks.bin")[:3] == []
