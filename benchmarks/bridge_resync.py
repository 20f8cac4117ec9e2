"""What resynchronising costs: the stream decoders (C reference and Python) on crafted and on ordinary traffic.

    python benchmarks/bridge_resync.py                # 5 rounds (base decoders on crafted streams: once)
    python benchmarks/bridge_resync.py --base 1d1d4fa --repeats 5

- crafted: nested valid headers, each payload running past the next header and failing its CRC (payloads ending at
  the end of the stream, and at random points), 64 KiB and 256 KiB: seconds per stream, and the 256/64 ratio
  (4 for linear work, 16 for quadratic);
- ordinary: 32 MB of valid messages (640x480 grey FRAMEs, RESULTs with RLE masks, HEARTBEATs): MB/s.
Both decoders have a 512 KiB buffer and are fed 64 KiB chunks. Each figure is the median over --repeats rounds that
interleave this tree's decoders and those at --base (built from git), in the same run. Results: printed, prepended to
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
CAP = 512 * 1024 + OVERHEAD
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


def time_c(exe: Path, data: bytes, path: Path, repeats: int) -> dict:
    path.write_bytes(data)
    out = subprocess.run([str(exe), str(CAP), str(CHUNK), str(repeats), str(path)], capture_output=True, text=True)
    seconds, events, packets = out.stdout.split()
    return {"seconds": float(seconds), "events": int(events), "packets": int(packets)}


def time_py(module, data: bytes, repeats: int) -> dict:
    times, events = [], 0
    for _ in range(repeats):
        decoder = module.StreamDecoder(max_payload=CAP - OVERHEAD)
        start = time.perf_counter()
        events = sum(len(decoder.feed(data[i : i + CHUNK])) for i in range(0, len(data), CHUNK))
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "events": events, "packets": decoder.stats.packets}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="rounds (the base decoders: once on crafted streams)")
    ap.add_argument("--base", default="1d1d4fa", help="the commit whose decoders are measured alongside")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    streams = {
        f"nested_{ends}_{kib}k": nested_headers(kib * 1024, ends) for ends in ("stream", "random") for kib in (64, 256)
    }
    streams["ordinary_32mb"] = ordinary_traffic()
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        c_dir, base_py = base_tree(args.base, tmp)
        c_now = make_program(tmp / "now", "fast", "decode_timing")
        c_base = make_program(tmp / "base", "fast", "decode_timing", SRC=str(c_dir))
        decoders = {
            "c": lambda d, n: time_c(c_now, d, tmp / "s.bin", n),
            f"c@{args.base}": lambda d, n: time_c(c_base, d, tmp / "s.bin", n),
            "python": lambda d, n: time_py(framing, d, n),
            f"python@{args.base}": lambda d, n: time_py(base_py, d, n),
        }
        for name, data in streams.items():  # rounds interleave the decoders, so that all see the same machine load
            slow_base = not name.startswith("ordinary")  # the base decoders take seconds here: once
            runs: dict[str, list[dict]] = {d: [] for d in decoders}
            for round_ in range(args.repeats):
                for decoder, run in decoders.items():
                    if not ("@" in decoder and slow_base and round_):
                        runs[decoder].append(run(data, 1))
            rows[name] = {
                d: {**r[0], "seconds": statistics.median(x["seconds"] for x in r), "runs": len(r)}
                for d, r in runs.items()
            }
            print(name, rows[name], flush=True)
    lines = ["| stream | " + " | ".join(decoders) + " |", "|---" * (len(decoders) + 1) + "|"]
    for name, by in rows.items():
        if name.startswith("ordinary"):
            mb = len(streams[name]) / 1e6
            cells = [f"{mb / r['seconds']:.0f} MB/s" for r in by.values()]
        else:
            cells = [f"{r['seconds'] * 1e3:.1f} ms" for r in by.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratios = {
        f"{ends}: 256k/64k": {
            d: rows[f"nested_{ends}_256k"][d]["seconds"] / rows[f"nested_{ends}_64k"][d]["seconds"] for d in decoders
        }
        for ends in ("stream", "random")
    }
    for what, by in ratios.items():
        lines.append(f"| ratio {what} | " + " | ".join(f"{v:.1f}x" for v in by.values()) + " |")
    same = all(
        len({(r["events"], r["packets"]) for r in by.values()}) == 1 for by in rows.values()
    )  # every decoder reports the same events
    body = "\n".join(lines) + f"\n\nAll decoders report the same events and packets on every stream: {same}."
    print(body)
    result = {"machine": machine_info(), "note": args.note, "base": args.base, "cap": CAP, "chunk": CHUNK,
              "repeats": args.repeats, "rows": rows, "ratios": ratios, "same_events": same}  # fmt: skip
    keep_run(result, "bridge_resync", HEAD, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
