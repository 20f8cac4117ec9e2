"""edge.measurement.tracking and the pipeline's `jump` flag: a band that leaps to another depth is flagged, not
measured; a depth held for long enough is followed."""

import numpy as np
import pytest
from test_measurement_identity import band_map, two_pieces

from edge.core.roi import Box
from edge.live.pipeline import FramePipeline
from edge.measurement.measure import measure
from edge.measurement.tracking import BandTracker


def frame_at(top: int, thickness: int = 8):
    labels = band_map(top, thickness, shape=(120, 40))
    return measure(labels, Box(0, 0, 40, 120))


def test_a_jump_to_another_depth_is_flagged_until_the_new_depth_holds():
    track = BandTracker(settle=3)
    flags = [track(frame_at(top)).flags for top in (60, 61, 60, 20, 60, 61)]
    assert flags == [(), (), (), ("jump",), (), ()]  # a second structure for one frame: flagged, track kept
    moved = [track(frame_at(top)).flags for top in (90, 91, 90, 91)]
    assert moved == [("jump",), ("jump",), (), ()]  # the probe moved: followed after 3 frames that agree
    track.reset()
    assert track(frame_at(20)).flags == ()  # a new stream starts a new track


def test_flagged_frames_do_not_move_the_track():
    track = BandTracker()
    track(frame_at(60))
    empty = measure(np.zeros((120, 40), np.uint8), Box(0, 0, 40, 120))  # no fascia: flagged, not tracked
    assert track(empty).flags == ("no_fascia",) and track.depth is not None
    assert track(frame_at(20)).flags == ("jump",)


def test_the_stream_pipeline_tracks_the_band_and_stills_do_not(bundled_engine, phantom):
    video, stills = FramePipeline(bundled_engine), FramePipeline(bundled_engine, video=False)
    for i in range(4):
        assert video(phantom.frame(i).image).flags == ()
    assert video.band.depth is not None and stills.band is None


def test_on_the_phantom_stream_a_band_taken_elsewhere_for_two_frames_is_not_measured(bundled_engine, phantom):
    """Frames 6 and 7 hide the band under tissue from deeper down and draw a bright line lower: whatever the model
    marks there is not where the band has been (`jump`), or not one band (`discontinuous`, `fragmented`), so those
    frames are not measured, and the track stays: the frames after them measure again."""
    pipeline, r = FramePipeline(bundled_engine), phantom.roi
    flags = []
    for i in range(11):
        image = phantom.frame(i).image.copy()
        if i in (6, 7):
            view = image[r.slices]
            top = int(phantom.band_top(i).max()) + 14
            view[:top] = view[top + 40 : 2 * top + 40]
            y = int(r.h * 0.55)
            view[y : y + 12] = np.clip(view[y : y + 12].astype(int) + 150, 0, 255).astype(np.uint8)
        result = pipeline(image)
        flags.append(result.flags)
        assert result.measurement.good == (i not in (6, 7)), (i, result.flags)
    assert flags[:6] == [()] * 6 and flags[8:] == [()] * 3
    assert all({"jump", "discontinuous", "fragmented"} & set(f) for f in flags[6:8]), flags[6:8]


def test_a_track_on_the_wrong_structure_does_not_lock_in():
    """The track starts on a line near the top; then the band alone alternates with frames showing the line in 60 %
    of the columns and the band in the rest, equally sure. The first such frame is measured on the line at the track
    (`partial`), but a piece the track chose never confirms the track, and while the band's new depth is pending the
    track names nothing: the band's depth is followed after `settle` frames, and the line is refused from then on."""
    roi = Box.full((100, 60))
    line_only = measure(band_map(4, 4), roi)
    band_only = measure(band_map(60, 8), roi)
    mixed = two_pieces(36, 0.9)
    track, flags = BandTracker(settle=3), []
    for frame in ("line", "mixed", "band", "mixed", "band", "mixed", "band", "mixed", "band"):
        if frame == "mixed":
            m = measure(mixed[0], roi, probs=mixed[1], track=track.at_track())
        else:
            m = line_only if frame == "line" else band_only
        flags.append(track(m).flags)
    assert flags == [
        (),
        ("partial",),
        ("jump",),
        ("discontinuous",),
        ("jump",),
        ("discontinuous",),
        (),
        ("discontinuous",),
        (),
    ]
    assert track.depth == pytest.approx(63.5)


def test_the_stream_pipeline_gives_measure_the_band_track(bundled_engine, phantom, monkeypatch):
    """The track the stream has followed so far is the evidence `measure` weighs for which piece is the band (the
    rule itself: test_measurement_identity); stills have none."""
    import edge.live.pipeline as pipeline_module

    seen = []

    def spy(*args, **kwargs):
        track = kwargs["track"]
        seen.append(None if track is None else (track(depths[-1], 8.0), track(depths[-1] + 30, 8.0)))
        return measure(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "measure", spy)
    video, stills = FramePipeline(bundled_engine), FramePipeline(bundled_engine, video=False)
    depths = [None]
    for i in range(3):
        video(phantom.frame(i).image)
        depths.append(video.band.depth)
    stills(phantom.frame(0).image)
    assert seen == [None, (True, False), (True, False), None] and depths[1] is not None
