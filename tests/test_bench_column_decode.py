"""benchmarks/column_decode.py: the one-band-per-column decoder the anatomy suggests (measured, not shipped)."""

import numpy as np

from benchmarks.column_decode import one_band_per_column
from edge.core.labels import ABOVE, BELOW, FASCIA  # noqa: E402


def test_one_band_per_column_drops_a_weaker_second_band():
    classes = np.full((40, 6), ABOVE)
    classes[10:15] = FASCIA
    classes[15:] = BELOW
    probs = np.eye(3)[classes] * 0.9 + 0.05
    probs[28:30, :, :] = [0.05, 0.6, 0.35]  # a stray bright fibre: fascia wins its pixels, narrowly
    assert (np.argmax(probs, axis=-1)[28:30] == FASCIA).all()
    out = one_band_per_column(probs)
    np.testing.assert_array_equal(out, classes)


def test_a_column_without_fascia_gets_an_empty_band_and_order_holds():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=(30, 20))
    probs[:, 5, FASCIA] = 0.0  # no fascia anywhere in column 5
    out = one_band_per_column(probs)
    assert (out[:, 5] != FASCIA).all()
    assert (np.diff(out.astype(int), axis=0) >= 0).all()  # above -> fascia -> below in every column
