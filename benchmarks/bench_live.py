"""Run `tlfseg bench` and keep the result: benchmarks/results/bench_live.md (tables, newest first, each with
the machine it ran on) and a line per run in benchmarks/results/raw/bench_live.jsonl.

    python benchmarks/bench_live.py                      # int8 (and the bundled float32 model if present)
    python benchmarks/bench_live.py --float-twin         # + a float32 twin of the int8 model's architecture
    python benchmarks/bench_live.py --float-model F.tflite

--float-twin builds, with the training extra (TensorFlow), an untrained float32 U-Net of the same architecture
as the int8 model and times it: for a dense CNN the weights do not change the time, so it stands in for the
trained float model until the quantization pipeline ships one. The results file says so.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.engine import DEFAULT_MODEL, Engine  # noqa: E402
from edge.core.paths import DL_TRACK_APO  # noqa: E402
from edge.tools.bench import format_table, run_bench  # noqa: E402

HEAD = (
    "# `tlfseg bench`: the paper's experiment and the live stream\n\n"
    "`python benchmarks/bench_live.py`. The paper's experiment: 87 real images through the whole pipeline, in "
    "seconds against the paper's 43 s, ms per image (p50 / p95, inference p50). The live stream: end-to-end latency "
    "(capture to measured result, ms p50 / p95), throughput (fps) and frames dropped. int8 and float32, 1 thread and "
    "all; temporal fusion off and on (IoU, thickness jump); the peak memory of the process.\n"
)

_TWIN = """
import sys
from pathlib import Path
from quantization.convert import write_tflite
from quantization.unet import build_unet
write_tflite(build_unet(int(sys.argv[1]), (int(sys.argv[2]), int(sys.argv[3]))), Path(sys.argv[4]))
"""


def float_twin(int8_model: Path, folder: Path) -> Path:
    """An untrained float32 .tflite with the int8 model's architecture (U-Net base filters, input size).

    Built in a child process, so that TensorFlow never counts towards this process's peak memory.
    """
    engine = Engine(int8_model)
    names = " ".join(t["name"] for t in engine.interpreter.get_tensor_details())
    found = re.search(r"unet(\d+)/", names)
    if not found:
        raise SystemExit(f"cannot tell the U-Net width of {int8_model}; pass --float-model instead")
    path = folder / f"twin_unet{found.group(1)}_float32.tflite"
    h, w = engine.input_size
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", _TWIN, found.group(1), str(h), str(w), str(path)], check=True, cwd=root)
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--float-model", type=Path)
    p.add_argument("--float-twin", action="store_true", help="time an untrained float32 twin (needs TensorFlow)")
    p.add_argument("--threads", default="1,2,all")
    p.add_argument("--stream-frames", type=int, default=150)
    p.add_argument("--stream-fps", type=float, default=30.0)
    p.add_argument("--note", default="", help="a line to keep with the result (e.g. what else was running)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        float_model, float_kind = args.float_model, "given"
        if float_model is None and args.float_twin:
            float_model, float_kind = float_twin(args.model, Path(tmp)), "untrained twin of the int8 architecture"
        result = run_bench(
            model=args.model,
            float_model=float_model,
            data=DL_TRACK_APO,
            threads=args.threads,
            stream_frames=args.stream_frames,
            stream_fps=args.stream_fps,
            progress=lambda t: print(t, flush=True),
        )
    if float_model is not None:
        result["float32"] = f"float32 model: {float_model.name} ({float_kind})"
    result["note"] = args.note
    table = format_table(result)
    print(table)

    face, log = keep_run(result, "bench_live", HEAD, f"```\n{table}\n```", intro=result["float32"])
    print(f"wrote {face}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
