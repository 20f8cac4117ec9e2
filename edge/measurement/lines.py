"""A second bright line close to the band: two lines a few rows apart, either of which could be the fascia.

The band is straightened (each column's grey sampled around the band's centre row there) and averaged over its
columns into one profile across it; a line running beside the band at about the same distance shows as a second peak.
Its prominence (height over the valley between it and the band) against the band's own says how strong a rival it is.
"""

from __future__ import annotations

import cv2
import numpy as np

#: columns sampled for the profile (every n-th column holding the band)
COLUMN_STEP = 4


def rival_line(grey: np.ndarray, centre: np.ndarray, found: np.ndarray, thickness: float, reach: float = 3.0) -> float:
    """The prominence of the strongest other line within `reach` band thicknesses of the band (its centre rows
    `centre` in the columns `found` of the ROI's `grey`), as a share of the band's own prominence; 0 where none."""
    cols = np.flatnonzero(found)[::COLUMN_STEP]
    if not cols.size:
        return 0.0
    t = max(float(thickness), 2.0)
    far = int(np.ceil((reach + 1.0) * t))
    offsets = np.arange(-far, far + 1)
    rows = np.minimum(np.maximum(np.rint(centre[cols]).astype(np.intp) + offsets[:, None], 0), grey.shape[0] - 1)
    samples = np.take(grey, rows * grey.shape[1] + cols)  # (offsets, columns): the band straightened
    profile = cv2.reduce(samples, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0] / cols.size  # exact sums
    half = max(1, int(t // 2))
    smooth = cv2.blur(profile[:, None], (1, 2 * half + 1), borderType=cv2.BORDER_REPLICATE)[:, 0]
    mid = far  # the band's centre
    band = smooth[mid - half : mid + half + 1].max()
    start = int(np.ceil(1.5 * t))  # beyond the band's own edges
    best = 0.0
    for run in (smooth[mid + 1 :], smooth[mid - 1 :: -1]):  # below, then above (walking away from the band)
        i = np.arange(start, run.size - 1)
        peak = (run[i] >= run[i - 1]) & (run[i] > run[i + 1])  # a peak beside the band
        valley = np.minimum.accumulate(run)[i - 1]  # the darkest row between the band and it
        rises = peak & (band > valley)
        if rises.any():
            best = max(best, float(((run[i] - valley) / (band - valley))[rises].max()))
    return best
