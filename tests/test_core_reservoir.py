"""edge.core.reservoir and what uses it: per-frame statistics in bounded memory over a long session."""

import gc
import tracemalloc

import numpy as np
import pytest
from live_support import small_phantom

from edge.core.latency import LatencyStats
from edge.core.reservoir import Reservoir, Series
from edge.live.loop import LiveLoop
from edge.live.pipeline import FramePipeline
from edge.live.sources import FrameReader, SyntheticCapture


def test_reservoir_is_exact_while_small_and_unbiased_beyond():
    small = Reservoir(capacity=100)
    for v in range(50):
        small.add(v)
    assert small.n == 50 and small.max == 49 and small.mean == pytest.approx(24.5)
    assert small.percentile(50) == pytest.approx(np.percentile(np.arange(50), 50))
    big = Reservoir(capacity=2000)
    values = np.random.default_rng(1).exponential(10.0, 200_000)
    for v in values:
        big.add(v)
    assert big.n == 200_000 and big.values.size == 2000 and big.max == values.max()
    assert big.mean == pytest.approx(values.mean())
    assert big.percentile(50) == pytest.approx(np.percentile(values, 50), rel=0.08)
    assert big.percentile(95) == pytest.approx(np.percentile(values, 95), rel=0.08)


def test_series_spans_the_whole_session_in_bounded_points():
    series = Series(capacity=100)
    for i in range(10_000):
        series.append((float(i), 1.0, True))
    assert len(series) < 100 and list(series)[0][0] == 0.0 and list(series)[-1][0] > 9_800
    steps = np.diff([t for t, _, _ in series])
    assert steps.min() == steps.max()  # evenly spaced


def test_latency_and_session_memory_does_not_grow_with_frames():
    stats = LatencyStats()
    timings = {"roi": 0.1, "preprocess": 0.5, "inference": 3.0, "postprocess": 0.4, "measure": 0.3, "total": 4.3}
    for _ in range(25_000):
        stats.add(timings)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(50_000):
        stats.add(timings)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 20_000, f"{grown} bytes for 50,000 frames"  # a list of floats would take ~15 MB
    assert stats.summary()["inference"] == {"n": 75_000, "mean": pytest.approx(3.0), "p50": 3.0, "p95": 3.0, "max": 3.0}


def test_the_live_loop_keeps_no_per_frame_state(bundled_engine, monkeypatch):
    """Python-level memory of a running loop after 300 frames and after 900: the same, within a few bytes a frame
    (before: about 0.8 kB a frame kept in latency lists and the thickness series). The plot's series is capped at
    100 points here so that its cap is reached within the test (20,000 in use)."""
    import edge.live.session

    monkeypatch.setattr(edge.live.session, "SERIES_POINTS", 100)
    marks = {}

    class Mark:
        needs_picture, stop_requested = False, False

        def write(self, frame, result, picture, session):
            if session.processed in (300, 900):
                gc.collect()  # what is kept, not a frame's cyclic garbage waiting for the collector
                marks[session.processed] = tracemalloc.get_traced_memory()[0]

        def event(self, event): ...

        def close(self, session): ...

    tracemalloc.start()
    reader = FrameReader(SyntheticCapture(phantom=small_phantom()), keep="all")
    session = LiveLoop(reader, FramePipeline(bundled_engine), sinks=[Mark()], max_frames=900).run()
    tracemalloc.stop()
    assert session.processed == 900
    assert (marks[900] - marks[300]) / 600 < 100, marks


def test_a_session_keeps_a_bounded_number_of_events(monkeypatch):
    import edge.live.session
    from edge.live.session import Session

    monkeypatch.setattr(edge.live.session, "MAX_EVENTS", 5)
    session = Session("demo", "model")
    for i in range(12):
        session.add_event({"kind": "lost", "t": i, "detail": ""})
    assert len(session.events) == 5 and session.events_not_kept == 7
    assert session.summary()["events_not_kept"] == 7
