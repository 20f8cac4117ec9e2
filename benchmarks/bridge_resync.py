"""What resynchronising costs: the stream decoders (C reference and Python) on crafted and on ordinary traffic.

    python benchmarks/bridge_resync.py                # 5 rounds (base decoders on crafted streams: once)
    python benchmarks/bridge_resync.py --base 1d1d4fa --repeats 5

- crafted: nested valid headers, each payload running past the next header and failing its CRC (payloads ending at
  the end of the stream, and at random points), 64 KiB and 256 KiB: seconds per stream, and the 256/64 ratio
  (4 for linear work, 16 for quadratic); these with a 512 KiB payload limit;
- capacity: 1 MiB of nested headers whose payloads end one byte before a resync mark (marks 1 KiB apart, as now, and
  cap / 62 apart, as the C decoder had them before issue 25), decoded with payload limits of 64 KiB, 1 MiB and 8 MiB:
  seconds per MiB, which must not grow with the limit;
- ordinary: 32 MB of valid messages (640x480 grey FRAMEs, RESULTs with RLE masks, HEARTBEATs): MB/s.
Decoders are fed 64 KiB chunks. Each figure is the median over --repeats rounds that interleave this tree's decoders
and those at --base (built from git), in the same run. Results: printed, prepended to
benchmarks/results/bridge_resync.md, the run appended to benchmarks/results/raw/bridge_resync.jsonl.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from firmware_bridge import framing  # noqa: E402
from firmware_bridge.messages import Frame, Heartbeat, Result, encode  # noqa: E402
from firmware_bridge.protocol import OVERHEAD, MaskEncoding, PixelFormat  # noqa: E402
from firmware_bridge.testing.cbuild import make_program  # noqa: E402
from firmware_bridge.testing.difffuzz import nested_headers  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MAX_PAYLOAD = 512 * 1024  #: the decoders' payload limit for the crafted and ordinary streams
CAPACITIES = {"64k": 64 * 1024, "1m": 1024 * 1024, "8m": 8 * 1024 * 1024}  #: payload limits of the capacity streams
CAPACITY_STREAM = 1024 * 1024
CHUNK = 64 * 1024
HEAD = (
    "# Stream decoder resync cost (crafted nested headers) and throughput\n\n"
    "`python benchmarks/bridge_resync.py`. Each decoder (C, Python; now and at an older commit): ms to decode each "
    "crafted stream, MB/s on ordinary traffic, and how the time grows from 64 KiB to 256 KiB (4x: linear, 16x: "
    "quadratic). Medians over interleaved rounds.\n"
)


def ordinary_traffic(megabytes: int = 32) -> bytes:
    rng = random.Random(0)
    frame = encode(Frame(1, 0, PixelFormat.GREY8, 640, 480, 640, rng.randbytes(640 * 480)), 1)
    result = encode(
        Result(1, mask_encoding=MaskEncoding.RLE, mask_width=640, mask_height=480, mask=rng.randbytes(3000)), 2
    )
    beat = encode(Heartbeat(5), 3)
    unit = frame + result + beat + result
    return unit * (megabytes * 1_000_000 // len(unit) + 1)


def base_tree(base: str, out: Path) -> tuple[Path, object]:
    """The C sources and the Python framing module at commit `base`."""
    c_dir = out / "c"
    c_dir.mkdir()
    for name in ("tlfseg_proto.c", "tlfseg_proto.h"):
        text = subprocess.run(["git", "show", f"{base}:firmware_bridge/c/{name}"], cwd=ROOT, capture_output=True)
        (c_dir / name).write_bytes(text.stdout)
    py = out / "framing_base.py"
    py.write_bytes(
        subprocess.run(["git", "show", f"{base}:firmware_bridge/framing.py"], cwd=ROOT, capture_output=True).stdout
    )
    spec = importlib.util.spec_from_file_location("framing_base", py)
    module = importlib.util.module_from_spec(spec)
    sys.modules["framing_base"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return c_dir, module


def time_c(exe: Path, data: bytes, max_payload: int, path: Path, repeats: int) -> dict:
    path.write_bytes(data)
    args = [str(exe), str(max_payload), str(CHUNK), str(repeats), str(path)]
    seconds, events, packets = subprocess.run(args, capture_output=True, text=True).stdout.split()
    return {"seconds": float(seconds), "events": int(events), "packets": int(packets)}


def time_py(module, data: bytes, max_payload: int, repeats: int) -> dict:
    times, events = [], 0
    for _ in range(repeats):
        decoder = module.StreamDecoder(max_payload=max_payload)
        start = time.perf_counter()
        events = sum(len(decoder.feed(data[i : i + CHUNK])) for i in range(0, len(data), CHUNK))
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "events": events, "packets": decoder.stats.packets}


def crafted_streams() -> dict[str, tuple[bytes, int]]:
    """name -> (stream, payload limit): the nested streams, the capacity streams and the ordinary traffic."""
    streams = {
        f"nested_{ends}_{kib}k": (nested_headers(kib * 1024, ends), MAX_PAYLOAD)
        for ends in ("stream", "random")
        for kib in (64, 256)
    }
    for cap_name, cap in CAPACITIES.items():
        block = min(cap + OVERHEAD, CAPACITY_STREAM)
        for marks, step in (("1k", 1024), ("cap62", (cap + OVERHEAD) // 62 + 1)):
            streams[f"marks{marks}_cap{cap_name}"] = (nested_headers(CAPACITY_STREAM, "marks", 0, block, step), cap)
    streams["ordinary_32mb"] = (ordinary_traffic(), MAX_PAYLOAD)
    return streams


def table(rows: dict[str, dict], streams: dict[str, tuple[bytes, int]], decoders: list[str]) -> list[str]:
    lines = ["| stream | " + " | ".join(decoders) + " |", "|---" * (len(decoders) + 1) + "|"]
    for name, by in rows.items():
        size = len(streams[name][0])
        if name.startswith("ordinary"):
            cells = [f"{size / 1e6 / r['seconds']:.0f} MB/s" for r in by.values()]
        elif name.startswith("marks"):
            cells = [f"{r['seconds'] / (size / 2**20):.3f} s/MiB" for r in by.values()]
        else:
            cells = [f"{r['seconds'] * 1e3:.1f} ms" for r in by.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="rounds (the base decoders: once on crafted streams)")
    ap.add_argument("--base", default="1d1d4fa", help="the commit whose decoders are measured alongside")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    streams = crafted_streams()
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        c_dir, base_py = base_tree(args.base, tmp)
        c_now = make_program(tmp / "now", "fast", "decode_timing")
        c_base = make_program(tmp / "base", "fast", "decode_timing", SRC=str(c_dir))
        decoders = {
            "c": lambda d, p, n: time_c(c_now, d, p, tmp / "s.bin", n),
            f"c@{args.base}": lambda d, p, n: time_c(c_base, d, p, tmp / "s.bin", n),
            "python": lambda d, p, n: time_py(framing, d, p, n),
            f"python@{args.base}": lambda d, p, n: time_py(base_py, d, p, n),
        }
        for name, (data, limit) in streams.items():  # rounds interleave the decoders: all see the same machine load
            slow_base = not name.startswith("ordinary")  # the base decoders take seconds here: once
            runs: dict[str, list[dict]] = {d: [] for d in decoders}
            for round_ in range(args.repeats):
                for decoder, run in decoders.items():
                    if not ("@" in decoder and slow_base and round_):
                        runs[decoder].append(run(data, limit, 1))
            rows[name] = {
                d: {**r[0], "seconds": statistics.median(x["seconds"] for x in r), "runs": len(r)}
                for d, r in runs.items()
            }
            print(name, rows[name], flush=True)
    lines = table(rows, streams, list(decoders))
    ratios = {
        f"{ends}: 256k/64k": {
            d: rows[f"nested_{ends}_256k"][d]["seconds"] / rows[f"nested_{ends}_64k"][d]["seconds"] for d in decoders
        }
        for ends in ("stream", "random")
    }
    worst = {  # per decoder and payload limit: the slower of the two capacity streams
        cap: {d: max(rows[f"marks{m}_cap{cap}"][d]["seconds"] for m in ("1k", "cap62")) for d in decoders}
        for cap in CAPACITIES
    }
    ratios["capacity: 8 MiB/64 KiB, worst stream"] = {d: worst["8m"][d] / worst["64k"][d] for d in decoders}
    for what, by in ratios.items():
        lines.append(f"| ratio {what} | " + " | ".join(f"{v:.1f}x" for v in by.values()) + " |")
    same = all(
        len({(r["events"], r["packets"]) for r in by.values()}) == 1 for by in rows.values()
    )  # every decoder reports the same events
    body = "\n".join(lines) + f"\n\nAll decoders report the same events and packets on every stream: {same}."
    print(body)
    result = {"machine": machine_info(), "note": args.note, "base": args.base, "max_payload": MAX_PAYLOAD,
              "capacities": CAPACITIES, "capacity_stream": CAPACITY_STREAM, "chunk": CHUNK, "repeats": args.repeats,
              "rows": rows, "ratios": ratios, "same_events": same}  # fmt: skip
    keep_run(result, "bridge_resync", HEAD, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
