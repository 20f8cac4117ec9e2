"""Bounded memory for per-frame statistics: a long clinic day at 25 fps is millions of frames, a board has little RAM.

`Reservoir` keeps exact count, mean and maximum and a uniform sample of at most `capacity` values (Vitter's
algorithm R), so percentiles are exact up to `capacity` values and an unbiased estimate beyond. `Series` keeps a
time series for a plot at most `capacity` points long, halving its resolution each time it fills.
"""

from __future__ import annotations

import numpy as np


class Reservoir:
    def __init__(self, capacity: int = 20_000, seed: int = 0) -> None:
        self.capacity = capacity
        self._values = np.empty(capacity, np.float64)
        self._rng = np.random.default_rng(seed)
        self.n, self.total, self.max = 0, 0.0, -np.inf

    def add(self, value: float) -> None:
        value = float(value)
        self.total += value
        self.max = max(self.max, value)
        if self.n < self.capacity:
            self._values[self.n] = value
        else:
            slot = int(self._rng.integers(0, self.n + 1))
            if slot < self.capacity:
                self._values[slot] = value
        self.n += 1

    def __len__(self) -> int:
        return self.n

    @property
    def values(self) -> np.ndarray:
        """The kept values (all of them while fewer than `capacity` were added)."""
        return self._values[: min(self.n, self.capacity)]

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else float("nan")

    def percentile(self, q):
        return np.percentile(self.values, q)


class Series:
    """(t, value, good) points for a plot; when `capacity` is reached every other point is dropped and from then on
    only every 2nd (4th, ...) point is kept, so the series always spans the whole session evenly."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity, self.stride, self._seen = capacity, 1, 0
        self.points: list[tuple[float, float | None, bool]] = []

    def append(self, point: tuple[float, float | None, bool]) -> None:
        if self._seen % self.stride == 0:
            self.points.append(point)
            if len(self.points) >= self.capacity:
                del self.points[1::2]
                self.stride *= 2
        self._seen += 1

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self):
        return iter(self.points)
