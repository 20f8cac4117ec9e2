"""`tlfseg bench`: the paper's 87-image timing next to its 43 s, and live-stream latency, per precision/threads."""

from __future__ import annotations

import argparse

from edge.tools.commands import add_model_option

EPILOG = """\
The headline is the ratio to the paper (43 s for 87 images), not an absolute time: it depends on the
board. The real images come from ../shared/data/dl_track_apo when present (else phantom frames; the
output says which). float32 needs a float .tflite: --float-model PATH, or the bundled
edge/models/tlfseg_unet_float32.tflite once the quantization pipeline ships it.

examples:
  tlfseg bench
  tlfseg bench --threads 1,all --json out/bench.json
  tlfseg bench --float-model runs/default/export/tlfseg_unet_float32.tflite
"""


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="time the paper's experiment (87 images, 43 s) and the live stream, int8 vs float32, per thread count",
        description="Benchmark: the paper's 87-image prediction time and per-image p50/p95, plus live-stream "
        "end-to-end latency, throughput and drop rate, for each precision and thread count; peak memory.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_option(p, "the int8 .tflite model")
    p.add_argument("--float-model", help="float32 .tflite to compare (default: bundled float model if present)")
    p.add_argument("--data", help="data set folder with images/ (default: ../shared/data/dl_track_apo)")
    p.add_argument("--images", type=int, default=87, help="images in the paper experiment (default 87)")
    p.add_argument("--threads", default="1,2,all", help="thread counts, comma-separated; 'all' = every core")
    p.add_argument("--stream-frames", type=int, default=150, help="frames per live-stream run (0: skip)")
    p.add_argument("--stream-fps", type=float, default=30.0, help="frame rate of the live demo stream (default 30)")
    p.add_argument("--fusion-frames", type=int, default=40, help="frames for the fusion accuracy check (0: skip)")
    p.add_argument("--json", metavar="FILE", help="also write the full result as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from edge.core.paths import DL_TRACK_APO
    from edge.tools.bench import format_table, run_bench

    if args.images < 1:
        raise ValueError("--images must be at least 1")
    print("tlfseg bench (progress below; the table follows)", flush=True)
    result = run_bench(
        model=args.model,
        float_model=Path(args.float_model) if args.float_model else None,
        data=Path(args.data) if args.data else DL_TRACK_APO,
        images=args.images,
        threads=args.threads,
        stream_frames=args.stream_frames,
        stream_fps=args.stream_fps,
        fusion_frames=args.fusion_frames,
        progress=lambda text: print(text, flush=True),
    )
    print(format_table(result))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")
    return 0
