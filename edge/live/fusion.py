"""Temporal fusion: an exponential moving average of class probabilities across frames (steadier masks on video)."""

from __future__ import annotations

import numpy as np


class ProbabilityFusion:
    def __init__(self, alpha: float) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"fusion weight must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        if self._state is None or self._state.shape != probs.shape:
            self._state = probs.astype(np.float32, copy=True)
        else:
            self._state = self.alpha * probs + (1 - self.alpha) * self._state
        return self._state
