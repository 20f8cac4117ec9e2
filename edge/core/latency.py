"""Per-stage latency statistics and the comparison with the paper (43 s for 87 images)."""

from __future__ import annotations

import time
from collections import defaultdict

from edge.core.reservoir import Reservoir

PAPER_IMAGES = 87
PAPER_SECONDS = 43.0
PAPER_MS_PER_IMAGE = PAPER_SECONDS / PAPER_IMAGES * 1e3  # 494 ms


class StageClock:
    """Times one frame's stages in one place: ``with clock("inference"): ...`` adds that stage's milliseconds to
    `timings_ms`; `stop()` adds "total", the time since the clock was made."""

    __slots__ = ("timings_ms", "_start", "_stage", "_t")

    def __init__(self) -> None:
        self.timings_ms: dict[str, float] = {}
        self._start = time.perf_counter()
        self._stage, self._t = "", 0.0

    def __call__(self, stage: str) -> StageClock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._t = time.perf_counter()

    def __exit__(self, *exc) -> None:
        ms = (time.perf_counter() - self._t) * 1e3
        self.timings_ms[self._stage] = self.timings_ms.get(self._stage, 0.0) + ms

    def stop(self) -> dict[str, float]:
        """The stages' milliseconds and their "total"."""
        self.timings_ms["total"] = (time.perf_counter() - self._start) * 1e3
        return self.timings_ms


class LatencyStats:
    """Collects per-frame stage timings (ms) and summarises them as percentiles, in bounded memory (`Reservoir`:
    exact count, mean and max; percentiles exact up to 20,000 frames, sampled beyond)."""

    def __init__(self) -> None:
        self.samples: dict[str, Reservoir] = defaultdict(Reservoir)

    def add(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.samples[stage].add(ms)
        if "total" not in timings_ms:
            self.samples["total"].add(sum(timings_ms.values()))

    def __len__(self) -> int:
        return len(self.samples["total"]) if "total" in self.samples else 0

    def summary(self) -> dict[str, dict[str, float]]:
        """{stage: {n, mean, p50, p95, max}} in ms."""
        out = {}
        for stage, r in self.samples.items():
            p50, p95 = r.percentile([50, 95])
            out[stage] = {"n": r.n, "mean": r.mean, "p50": float(p50), "p95": float(p95), "max": r.max}
        return out

    def paper_comparison(self) -> dict[str, float]:
        """Time for the paper's 87 images at our median per-image latency, and the speed-up over 43 s."""
        p50 = float(self.samples["total"].percentile(50))
        ours = p50 * PAPER_IMAGES / 1e3
        return {
            "ms_per_image_p50": p50,
            "seconds_for_87": ours,
            "paper_seconds_for_87": PAPER_SECONDS,
            "speedup_vs_paper": PAPER_SECONDS / ours if ours > 0 else float("inf"),
        }

    def table(self) -> str:
        """A plain-text table: per-stage p50/p95/max, then the line against the paper."""
        rows = [f"{'stage':<14}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}"]
        for stage, s in self.summary().items():
            rows.append(f"{stage:<14}{s['n']:>6}{s['p50']:>10.1f}{s['p95']:>10.1f}{s['max']:>10.1f}")
        if len(self):
            c = self.paper_comparison()
            rows.append(
                f"87 images: {c['seconds_for_87']:.2f} s here vs {PAPER_SECONDS:.0f} s in the paper "
                f"({c['speedup_vs_paper']:.0f}x faster; "
                f"{c['ms_per_image_p50']:.1f} vs {PAPER_MS_PER_IMAGE:.0f} ms/image)"
            )
        return "\n".join(rows)
