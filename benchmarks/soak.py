"""Soak: the live loop over a long stream, its resident memory sampled as it goes.

    python benchmarks/soak.py --frames 100000        # about 20 minutes at 10 ms a frame

The demo phantom (rendered once, replayed as a capture driver hands over buffers) runs through the real `LiveLoop`
and `FramePipeline` with every frame processed (no drops), a status sink and a recording sink's per-frame log left
out (it writes to disk, not to memory). RSS is read from /proc every `--every` frames. The promise: RSS growth under
5 MB over 100,000 frames after the first 1,000 (warm-up: allocator pools, OpenCV and XNNPACK buffers). Writes
results/soak.md (newest first) and results/img/soak_<time>.png (RSS over frames), appends the run to
results/raw/soak.jsonl.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import PICTURES, keep_run, picture_path  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.live.runtime import LiveSettings, build  # noqa: E402
from edge.live.sinks import Sink  # noqa: E402
from edge.live.sources import SyntheticCapture  # noqa: E402
from edge.tools.bench import CyclingPhantom  # noqa: E402

HEAD = (
    "# Soak: memory over a long live session\n\n"
    "`python benchmarks/soak.py`. The live loop's resident memory (RSS, MB) over many demo frames: at the first "
    "sample and at the end, its growth after the warm-up and over the second half, against the promise; the "
    "picture: RSS over frames.\n"
)
WARMUP = 1_000
LIMIT_MB = 5.0


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssProbe(Sink):
    """Samples RSS every `every` processed frames, and says how far the run is."""

    def __init__(self, every: int, total: int) -> None:
        self.every, self.total, self.curve = every, total, []

    def write(self, frame, result, picture, session) -> None:
        if session.processed % self.every == 0:
            self.curve.append((session.processed, round(rss_mb(), 2)))
            if session.processed % (self.every * 10) == 0:
                print(f"  {session.processed}/{self.total} frames, RSS {self.curve[-1][1]:.1f} MB", flush=True)


def soak(frames: int, every: int) -> dict:
    probe = RssProbe(every, frames)
    capture = SyntheticCapture(fps=1000.0, phantom=CyclingPhantom())
    live = build(LiveSettings(every_frame=True, frames=frames), capture=capture, sinks=[probe])
    t0 = time.perf_counter()
    session = live.run()
    seconds = time.perf_counter() - t0
    return {"frames": session.processed, "seconds": round(seconds, 1), **growth(probe.curve)}


def growth(curve: list[tuple[int, float]]) -> dict:
    """RSS growth after the warm-up, over the whole run and over its second half (zero once every bounded structure
    is full: the thickness series fills at 20,000 frames)."""
    after = [(n, mb) for n, mb in curve if n >= WARMUP]
    half = [mb for n, mb in after if n >= after[-1][0] / 2] if after else []
    return {
        "rss_curve_mb": curve,
        "rss_growth_after_warmup_mb": round(after[-1][1] - after[0][1], 2) if len(after) > 1 else None,
        "rss_growth_second_half_mb": round(half[-1] - half[0], 2) if len(half) > 1 else None,
        "limit_mb": LIMIT_MB,
    }


def figure(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, mb = zip(*result["soak"]["rss_curve_mb"])
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(n, mb)
    ax.axvline(WARMUP, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("frames processed")
    ax.set_ylabel("RSS (MB)")
    ax.set_title(f"tlfseg live loop, {result['soak']['frames']} frames")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--every", type=int, default=500, help="frames between RSS samples")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    result = {"machine": machine_info(), "note": args.note, "soak": soak(args.frames, args.every)}
    s = result["soak"]
    picture = picture_path("soak")
    figure(result, picture)
    body = (
        f"{s['frames']} frames in {s['seconds']} s; RSS {s['rss_curve_mb'][0][1]} MB at frame "
        f"{s['rss_curve_mb'][0][0]}, {s['rss_curve_mb'][-1][1]} MB at the end; growth after {WARMUP} frames "
        f"{s['rss_growth_after_warmup_mb']} MB in all, {s['rss_growth_second_half_mb']} MB over the second half "
        f"(promise: under {LIMIT_MB:g} MB in all, none once the bounded statistics are full). "
        f"![RSS over frames]({PICTURES}/{picture.name})"
    )
    face, log = keep_run(result, "soak", HEAD, body)
    print(body)
    print(f"wrote {face} and {picture}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
