"""The shipped int8 model's class maps agree with its float32 twin's on real images it never trained on.

Why 93 % per image and 99 % over the set: int8 and float differ by rounding and, for the QAT model, by up to 10
fine-tuning epochs at a tenth of the learning rate. A pixel can only flip where two classes are nearly tied: on the
class boundaries of each column, or, where two band candidates lie close, over the columns between them. Measured
on the 60 test images with a width-8 float checkpoint (epoch 28): post-training int8 agreed with float on 99.97 %
of pixels (worst image 99.91 %), the QAT int8 model after 2 QAT epochs on 99.67 % (worst image 98.94 %). The model
shipped on 2026-12-03 (QAT kept epoch 10) agrees on 99.65 % of the 59 test images' pixels; its worst image,
img_00014 (a 1234x688 capture with two band candidates close together), 94.6 %: the int8 model takes the upper
one in part of the columns. A quantization fault (wrong scale or zero point, swapped models, an untrained QAT model)
gives well under 90 %: an untrained QAT model agreed on 80 %.
"""

import json

import numpy as np
import pytest

from edge.core.engine import DEFAULT_MODEL
from edge.live.pipeline import FramePipeline
from quantization.data import load_dl_track_apo, read_image

TWIN = DEFAULT_MODEL.with_name("tlfseg_unet_float32.tflite")
META = DEFAULT_MODEL.with_name("model.json")
IMAGES = 12
PER_IMAGE, OVERALL = 0.93, 0.99


def test_int8_agrees_with_its_float_twin(real_data_dir, bundled_engine):
    if not TWIN.is_file() or not META.is_file():
        pytest.skip(f"no float32 twin shipped beside the int8 model yet ({TWIN.name}; tlfseg pipeline --ship)")
    held_out = json.loads(META.read_text())["split"]["names"]["test"]
    samples = [s for s in load_dl_track_apo(real_data_dir)[0] if s.name in set(held_out)][:IMAGES]
    assert len(samples) == IMAGES
    int8, float32 = FramePipeline(bundled_engine, video=False), FramePipeline(TWIN, video=False)
    agreement = {}
    for s in samples:
        image = read_image(s.image)
        agreement[s.name] = float(np.mean(int8(image).labels == float32(image).labels))
    worst = min(agreement, key=agreement.get)
    assert agreement[worst] >= PER_IMAGE, agreement
    assert np.mean(list(agreement.values())) >= OVERALL, agreement
