"""benchmarks/sequences.py: clips made from a real capture move its layers by the known amounts, decorrelate and
compress as asked, and slide onto another capture."""

import cv2
import numpy as np
import pytest

from benchmarks.sequences import Capture, Clip, Motion, Switch, write_clip
from edge.core.labels import FASCIA
from edge.measurement.measure import fascia_runs


@pytest.fixture(scope="module")
def captures(real_data_dir):
    """Two 512x512 captures of the shipped model's validation split (bands at rows 34-40 and 10)."""
    from quantization.data import load_dl_track_apo, read_image, read_labels

    wanted = ("img_00091", "img_00099")
    samples = {s.name: s for s in load_dl_track_apo(real_data_dir)[0] if s.name in wanted}
    return [Capture.of(n, read_image(samples[n].image), read_labels(samples[n])) for n in wanted]


def test_each_layer_moves_by_its_known_amount(captures):
    c = captures[0]
    clip = Clip(c, Motion(glide=1.0))  # below 1 px a frame, the band 0.5, above still; whole pixels are exact
    (a, la, sa), (b, lb, sb) = clip.bmode(4), clip.bmode(6)
    assert list(sb - sa) == [0.0, 1.0, 2.0]
    deep, shallow = slice(int(c.bottom.max()) + 40, c.roi.h - 40), slice(0, int(c.top.min()) - 4)
    assert np.abs(b[deep, 40:-40] - a[deep, 38:-42]).max() < 0.5  # the tissue below, 2 px to the right
    assert np.abs(b[shallow] - a[shallow]).max() < 0.5  # the tissue above, still
    top_a, top_b = (fascia_runs(lab).top.astype(float) for lab in (la, lb))
    assert np.median(np.abs(top_b[60:-60] - top_a[59:-61])) <= 1.0  # the band's shape, 1 px to the right
    assert (la == FASCIA).sum() == pytest.approx((lb == FASCIA).sum(), rel=0.02)


def test_the_probe_moves_every_layer_and_the_truth_follows_it(captures):
    c = captures[0]
    still, moved = Clip(c, Motion(frames=40)), Clip(c, Motion(frames=40, pan_px=10.0, lift_px=3.0))
    pan, lift, _, _ = moved.motion.probe(5)
    a, la, _ = still.bmode(5)
    b, lb, _ = moved.bmode(5)
    dx, dy = round(pan), round(lift)
    assert (dx, dy) != (0, 0)
    shifted = np.roll(np.roll(a, dx, axis=1), dy, axis=0)
    inner = (slice(60, -60), slice(60, -60))
    assert np.abs(b[inner] - shifted[inner]).mean() < 0.25 * np.abs(b[inner] - a[inner]).mean()
    truth = np.roll(np.roll(la, dx, axis=1), dy, axis=0)
    assert (lb[inner] == truth[inner]).mean() > 0.99


def test_decorrelation_renews_that_share_of_the_speckle(captures):
    def fine(image):
        return image - cv2.GaussianBlur(image, (0, 0), 2.0)

    clip = Clip(captures[0], Motion(decorrelation=0.2))
    grey = [captures[0].roi.part(clip.frame(i)[0][..., 0]).astype(np.float32) for i in (3, 4)]
    a, b = (fine(g).ravel() for g in grey)
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(0.8, abs=0.06)  # nothing moves: about 1 - 0.2 of it kept


def test_clips_are_compressed_as_a_grabber_does(captures, tmp_path):
    clip = Clip(captures[0], Motion(frames=3, glide=0.5))
    frames = [image for image, _ in clip.frames()]
    path = write_clip(tmp_path / "clip.avi", iter(frames))
    cap = cv2.VideoCapture(str(path))
    decoded = [cap.read()[1] for _ in range(3)]
    assert cap.get(cv2.CAP_PROP_FOURCC) == cv2.VideoWriter_fourcc(*"MJPG")
    errors = [np.abs(d.astype(float) - f).mean() for d, f in zip(decoded, frames, strict=True)]
    assert all(0.3 < e < 3.0 for e in errors), errors  # JPEG at quality 80: altered, not spoiled


def test_a_slide_onto_another_capture_and_back(captures):
    a, b = captures
    sw = Switch(Clip(a, Motion(frames=20)), Clip(b, Motion(frames=20)), dwell=4, slide=4)
    assert len(sw) == 20 and [sw.share_b(i) for i in (3, 4, 7, 11, 15, 19)] == [0, 0.25, 1, 1, 0, 0]
    tissues = [sw.frame(i)[1] for i in (0, 5, 6, 9, 12, 19)]
    assert [t.tissue for t in tissues] == ["img_00091", "img_00091", "img_00099", "img_00099", "img_00099",
                                           "img_00091"]  # fmt: skip
    assert tissues[0].band.depth_px - tissues[3].band.depth_px > 20  # another structure, much higher
    mid = tissues[1]  # half of each in view: two bands side by side
    top = fascia_runs(a.roi.part(mid.labels)).top
    assert top[: a.roi.w // 3].mean() > top[-a.roi.w // 5 :].mean() + 20
    assert mid.other is not None and mid.other.depth_px == pytest.approx(tissues[3].band.depth_px, abs=3)
