"""Differential fuzzing at scale: the C reference and the Python decoder on the same 1e6 records, three limits.

    python benchmarks/bridge_difffuzz.py                 # 1,000,000 records (a few minutes)
    python benchmarks/bridge_difffuzz.py --records 20000 # quick

Records come from `firmware_bridge.testing.difffuzz.corpus` (random bytes, damaged message streams, headers lying
about their length up to 4 GiB, nested valid headers), in batches; each is decoded by the C reference (--corpus mode,
64-bit, -O1, no sanitizers: speed) and by the Python decoder at payload limits 48, 512 and 4096 bytes, and every line
of events and counters must be identical. The Python decoder's peak RSS is recorded too. Results: printed, prepended
to benchmarks/results/bridge_difffuzz.md, the run appended to benchmarks/results/raw/bridge_difffuzz.jsonl.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from firmware_bridge.testing.cbuild import build_c  # noqa: E402
from firmware_bridge.testing.difffuzz import PAYLOAD_LIMITS, corpus, differences  # noqa: E402

HEAD = (
    "# C reference vs Python decoder: differential fuzzing\n\n"
    "`python benchmarks/bridge_difffuzz.py`. Records decoded by both at each payload limit, and how many decodings "
    "differ between them (the promise: none); the Python side's peak RSS and the wall time.\n"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        build = build_c(Path(tmp), "64-bit", sanitize=False)
        records = corpus(args.records, seed=args.seed)
        done, total_bytes, diffs = 0, 0, {limit: [] for limit in PAYLOAD_LIMITS}
        while batch := list(islice(records, args.batch)):
            for limit, found in differences(build, batch, Path(tmp) / "batch.bin").items():
                diffs[limit] += [(done + i, c, p) for i, c, p in found]
            done += len(batch)
            total_bytes += sum(map(len, batch))
            print(f"{done} records, differences {[len(d) for d in diffs.values()]}", flush=True)
    seconds = time.perf_counter() - start
    result = {
        "machine": machine_info(),
        "note": args.note,
        "records": done,
        "bytes": total_bytes,
        "seed": args.seed,
        "payload_limits": list(PAYLOAD_LIMITS),
        "decodings": done * len(PAYLOAD_LIMITS),
        "differences": {str(k): len(v) for k, v in diffs.items()},
        "first_differences": {str(k): v[:5] for k, v in diffs.items() if v},
        "python_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": seconds,
    }
    body = (
        f"{done:,} records ({total_bytes / 1e6:.0f} MB) x payload limits {', '.join(map(str, PAYLOAD_LIMITS))}: "
        f"{result['decodings']:,} decodings, differences C vs Python: "
        f"{', '.join(f'{k}: {len(v)}' for k, v in diffs.items())}. Python peak RSS "
        f"{result['python_peak_rss_mb']:.0f} MB; {seconds:.0f} s."
    )
    print(body)
    keep_run(result, "bridge_difffuzz", HEAD, body)
    return 0 if not any(diffs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
