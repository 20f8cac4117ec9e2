"""benchmarks/ensemble.py: int8 models averaged behind the one engine interface the frame pipeline uses."""

import numpy as np
import pytest

from benchmarks.ensemble import Averaged
from edge.core.engine import Engine
from edge.live.pipeline import FramePipeline


def test_the_average_of_one_model_twice_is_that_model(bundled_engine, phantom):
    frame = phantom.frame(2).image
    alone = FramePipeline(bundled_engine, video=False)(frame)
    twice = FramePipeline(Averaged([bundled_engine, Engine()]), video=False)(frame)
    np.testing.assert_allclose(twice.probs, alone.probs, atol=1e-6)
    np.testing.assert_array_equal(twice.labels, alone.labels)


def test_models_of_other_sizes_are_refused(bundled_engine):
    class Other:
        input_size, output_size = (256, 256), (256, 256)

    with pytest.raises(ValueError, match="differ in input or output size"):
        Averaged([bundled_engine, Other()])
