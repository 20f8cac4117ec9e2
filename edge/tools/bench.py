"""`tlfseg bench`: the paper's timing experiment (87 images, 43 s) and live-stream figures, per precision
and thread count, with the machine they were measured on."""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.core.engine import DEFAULT_MODEL, Engine
from edge.core.imagefiles import list_images, read_image
from edge.core.latency import PAPER_IMAGES, PAPER_SECONDS, LatencyStats
from edge.core.machine import machine_info
from edge.core.paths import DL_TRACK_APO
from edge.core.values import parse_threads
from edge.live.phantom import Phantom
from edge.live.runtime import LiveSettings, build, build_pipeline
from edge.live.sinks import Sink
from edge.live.sources import SyntheticCapture
from edge.measurement.metrics import SetMetrics

FLOAT_MODEL = DEFAULT_MODEL.with_name("tlfseg_unet_float32.tflite")
WARMUP = 3


@dataclass(frozen=True)
class Variant:
    precision: str  #: "int8" or "float32"
    model: Path
    threads: int
    label: str  #: "1", "2", "all (2)"


def paper_images(data: Path | None, count: int = PAPER_IMAGES) -> tuple[list[np.ndarray], str]:
    """`count` real images spread evenly over the data set's names, or phantom frames if it is absent."""
    folder = data / "images" if data is not None and (data / "images").is_dir() else None
    if folder is not None:
        paths = list_images(folder)
        if paths:
            picks = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(count, len(paths))).round()]
            sizes = {read_image(p).shape[:2] for p in picks}
            return [read_image(p) for p in picks], (
                f"{len(picks)} real images from {data.name} (evenly spaced over {len(paths)} names, "
                f"{len(sizes)} image sizes)"
            )
    phantom = Phantom()
    frames = [phantom.frame(i * 5).image for i in range(count)]
    return frames, f"{count} synthetic phantom frames (real data not found{f' at {data}' if data else ''})"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def time_images(engine: Engine, images: list[np.ndarray]) -> dict:
    """The paper's experiment: every image through the full per-frame pipeline, one after another (each its own
    B-mode area: the images come from several scanners)."""
    pipeline = build_pipeline(LiveSettings(video=False), engine)
    for image in images[:WARMUP]:
        pipeline(image)
    stats = LatencyStats()
    t0 = time.perf_counter()
    for image in images:
        stats.add(pipeline(image).timings_ms)
    total_s = time.perf_counter() - t0
    s = stats.summary()
    scaled = total_s * PAPER_IMAGES / len(images)  # the same figure for exactly 87 images
    return {
        "images": len(images),
        "total_s": round(total_s, 3),
        "seconds_for_87": round(scaled, 3),
        "speedup_vs_paper": round(PAPER_SECONDS / scaled, 1),
        "per_image_ms": {"p50": round(s["total"]["p50"], 2), "p95": round(s["total"]["p95"], 2)},
        "inference_ms": {"p50": round(s["inference"]["p50"], 2), "p95": round(s["inference"]["p95"], 2)},
    }


def time_stream(engine: Engine, frames: int, fps: float, phantom: Phantom) -> dict:
    """The live figures: the demo probe at `fps` through the real loop, newest-frame policy."""
    session = build(LiveSettings(frames=frames), capture=SyntheticCapture(fps, phantom), engine=engine).run()
    s = session.latency.summary()
    return {
        "source_fps": fps,
        "frames_processed": session.processed,
        "frames_seen": session.seen,
        "e2e_ms": {"p50": round(s["e2e"]["p50"], 2), "p95": round(s["e2e"]["p95"], 2)},
        "throughput_fps": round(session.processed / session.duration_s, 2),
        "drop_rate": round(session.dropped_total / session.seen, 4) if session.seen else 0.0,
        "dropped": dict(session.dropped),
    }


class CyclingPhantom(Phantom):
    """A phantom whose frames are rendered once and replayed, so the benchmark's source costs what a
    capture driver costs (a buffer hand-over), not the phantom's rendering."""

    def __init__(self, cycle: int = 30) -> None:
        super().__init__()
        self._cache = [Phantom.frame(self, i) for i in range(cycle)]

    def frame(self, index: int):
        return self._cache[index % len(self._cache)]


class _ScoreAgainstPhantom(Sink):
    """Scores each processed frame against the phantom's exact labels; keeps the thickness series."""

    def __init__(self, phantom: Phantom) -> None:
        self.phantom, self.metrics, self.thickness = phantom, SetMetrics(), []

    def write(self, frame, result, picture, session) -> None:
        truth = self.phantom.frame(frame.seq).labels
        self.metrics.add(str(frame.seq), result.labels, truth)
        self.thickness.append(result.measurement.thickness_px)


def fusion_effect(engine: Engine, frames: int, alpha: float = 0.5) -> dict:
    """Temporal fusion off vs on over the same phantom frames: accuracy against the exact labels, and how
    much the measured thickness jumps from frame to frame."""
    out: dict = {"frames": frames, "alpha": alpha}
    for name, fuse in (("off", None), ("on", alpha)):
        phantom = Phantom()
        score = _ScoreAgainstPhantom(phantom)
        settings = LiveSettings(fuse=fuse, every_frame=True, frames=frames)
        build(settings, capture=SyntheticCapture(phantom=phantom), engine=engine, sinks=[score]).run()
        m = score.metrics.summary()
        t = np.array([v for v in score.thickness if v is not None], float)
        out[name] = {
            "accuracy": round(m["micro"]["accuracy"], 4),
            "mean_iou": round(m["micro"]["mean_iou"], 4),
            "fascia_iou": round(m["per_image_mean"]["fascia_iou"], 4),
            "thickness_jump_px": round(float(np.median(np.abs(np.diff(t)))), 3) if t.size > 1 else None,
        }
    return out


def variants(int8_model: Path, float_model: Path | None, threads: list[int]) -> list[Variant]:
    cores = os.cpu_count() or 1
    out = []
    for precision, model in (("int8", int8_model), ("float32", float_model)):
        if model is None:
            continue
        for n in threads:
            out.append(Variant(precision, model, n, f"all ({n})" if n == cores else str(n)))
    return out


def thread_counts(spec: str) -> list[int]:
    """ "1,2,all" -> [1, 2, cores] without repeats, in order."""
    out: list[int] = []
    for part in spec.split(","):
        n = parse_threads(part)
        if n not in out:
            out.append(n)
    return out


def run_bench(
    model: Path | None = None,
    float_model: Path | None = None,
    data: Path | None = DL_TRACK_APO,
    images: int = PAPER_IMAGES,
    threads: str = "1,2,all",
    stream_frames: int = 150,
    stream_fps: float = 30.0,
    fusion_frames: int = 40,
    progress=print,
) -> dict:
    """Every (precision, threads) variant: the 87-image experiment and the live stream. Returns the result."""
    model = Path(model) if model else DEFAULT_MODEL
    float_note = None
    if float_model is None and FLOAT_MODEL.is_file():
        float_model = FLOAT_MODEL
    if float_model is None:
        float_note = (
            f"float32 skipped: no float model ({FLOAT_MODEL.name} is not bundled yet; pass --float-model PATH, "
            "e.g. one written by the quantization pipeline)"
        )
    for path in (model, float_model):  # a bad model fails now, not after minutes of timing
        if path is not None:
            Engine(path)
    result: dict = {"machine": machine_info(), "paper": {"images": PAPER_IMAGES, "seconds": PAPER_SECONDS}}
    pictures, described = paper_images(data, images)
    result["images"] = described
    result["float32"] = float_note or f"float32 model: {float_model}"
    phantom = CyclingPhantom() if stream_frames else None
    rows = []
    for v in variants(model, float_model, thread_counts(threads)):
        engine = Engine(v.model, threads=v.threads)
        progress(f"  {v.precision} threads {v.label}: {len(pictures)} images ...")
        row = {"precision": v.precision, "threads": v.threads, "threads_label": v.label, "model": str(v.model)}
        row["backend"] = engine.backend
        row["paper_experiment"] = time_images(engine, pictures)
        if stream_frames:
            progress(f"  {v.precision} threads {v.label}: live stream, {stream_frames} frames at {stream_fps:g} fps")
            row["stream"] = time_stream(engine, stream_frames, stream_fps, phantom)
        row["peak_rss_mb_so_far"] = round(peak_rss_mb(), 1)
        rows.append(row)
    result["variants"] = rows
    if fusion_frames:
        progress(f"  temporal fusion off vs on: {fusion_frames} phantom frames each ...")
        result["fusion"] = fusion_effect(Engine(model, threads=rows[0]["threads"]), fusion_frames)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def format_table(result: dict) -> str:
    m = result["machine"]
    board = f"{m['board']}, " if m["board"] else ""
    lines = [
        f"machine: {board}{m['cpu']} ({m['cores']} cores, {m['machine']}, {' '.join(m['isa_flags']) or 'ISA ?'}), "
        f"Python {m['python']}, "
        f"{', '.join(f'{k} {v}' for k, v in m['packages'].items())}; load {m['load_average_1min_at_start']} at start",
        f"paper experiment: {result['images']}; full pipeline per image (preprocess, inference, postprocess), "
        f"images in memory, {WARMUP} warm-up runs not counted",
        f"{'model':<9}{'threads':<9}{'87 images':>11}{'vs 43 s':>9}{'p50 ms':>9}{'p95 ms':>9}{'infer p50':>11}",
    ]
    for r in result["variants"]:
        p = r["paper_experiment"]
        lines.append(
            f"{r['precision']:<9}{r['threads_label']:<9}{p['seconds_for_87']:>9.2f} s{p['speedup_vs_paper']:>8.1f}x"
            f"{p['per_image_ms']['p50']:>9.1f}{p['per_image_ms']['p95']:>9.1f}{p['inference_ms']['p50']:>11.1f}"
        )
    if not result["float32"].startswith("float32 model"):
        lines.append(result["float32"])
    streams = [r for r in result["variants"] if "stream" in r]
    if streams:
        s0 = streams[0]["stream"]
        lines.append(
            f"live stream: demo probe at {s0['source_fps']:g} fps, {s0['frames_processed']} frames per variant, "
            "newest-frame policy (end-to-end = capture timestamp to measured result)"
        )
        lines.append(f"{'model':<9}{'threads':<9}{'e2e p50':>9}{'e2e p95':>9}{'throughput':>12}{'dropped':>9}")
        for r in streams:
            s = r["stream"]
            lines.append(
                f"{r['precision']:<9}{r['threads_label']:<9}{s['e2e_ms']['p50']:>6.1f} ms{s['e2e_ms']['p95']:>6.1f} ms"
                f"{s['throughput_fps']:>8.1f} fps{s['drop_rate']:>9.1%}"
            )
    if "fusion" in result:
        f = result["fusion"]
        lines.append(
            f"temporal fusion (alpha {f['alpha']:g}, {f['frames']} phantom frames, exact labels): "
            + "; ".join(
                f"{k}: mean IoU {f[k]['mean_iou']:.3f}, fascia IoU {f[k]['fascia_iou']:.3f}, "
                f"thickness jump {f[k]['thickness_jump_px']} px/frame"
                for k in ("off", "on")
            )
        )
    lines.append(f"peak memory (ru_maxrss) of the whole benchmark process: {result['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)
