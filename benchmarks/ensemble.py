"""Trainings averaged: does the mean of several int8 models' probabilities find the band more often than each alone?

    python benchmarks/ensemble.py runs/w16_depth/660x556-seed0 runs/w16_above/660x556-seed0 [...]

Each run's int8 model, and the average of their class probabilities (the runtime's `FramePipeline` with an engine
that runs them all), on the runs' common test split (a held-out layout: they must share it), through the on-device
path: fascia Dice, mean IoU, wrong-structure frames, those reported good, right frames flagged, inference time.
The cost of an ensemble is one inference per model. Writes results/ensemble.md (newest first) and appends the run
to results/raw/ensemble.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.engine import Engine  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.measurement.identity import IdentityTally, band_identity  # noqa: E402
from edge.measurement.metrics import SetMetrics  # noqa: E402

HEAD = (
    "# Trainings averaged\n\n"
    "`python benchmarks/ensemble.py`. Each run's int8 model, and the average of their probabilities, on the held-out "
    "split the runs share, through the on-device path: fascia Dice, mean IoU, wrong-structure frames and those of "
    "them reported good, right frames flagged, and the median inference ms on 1 thread.\n"
)


class Averaged:
    """The engines' class probabilities averaged: what `FramePipeline` needs of an engine (`input_size`, `infer`)."""

    def __init__(self, engines: list[Engine]) -> None:
        sizes = {(e.input_size, e.output_size) for e in engines}
        if len(sizes) != 1:
            raise ValueError(f"the models differ in input or output size: {sorted(sizes)}")
        self.engines, self.input_size = engines, engines[0].input_size

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        return np.mean([e.infer(tensor) for e in self.engines], axis=0)


def score(engine, samples) -> dict:
    from quantization.data import read_image, read_labels

    pipeline, metrics, identity, ms = FramePipeline(engine, video=False), SetMetrics(), IdentityTally(), []
    for s in samples:
        image, labels = read_image(s.image), read_labels(s)
        result = pipeline(image)
        ms.append(result.timings_ms["inference"])
        scores = metrics.add(s.name, result.labels, labels)
        identity.add(s.name, band_identity(result.labels, labels, scores["dice"]["fascia"]), result.flags)
    micro, b = metrics.summary()["micro"], identity.summary()
    keys = ("frames", "wrong", "wrong_share", "wrong_good", "wrong_good_share", "right_flagged_share")
    return {
        "fascia_dice": micro["dice"]["fascia"],
        "mean_iou": micro["mean_iou"],
        **{k: b[k] for k in keys},
        "inference_ms_p50": float(np.median(ms)),
    }


def main(argv: list[str] | None = None) -> int:
    from quantization.run_data import split_samples
    from quantization.runs import int8_model, model_paths

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories held out of the same layout")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    tests = {json.dumps(json.loads((r / "split.json").read_text())["test"]) for r in args.runs}
    if len(tests) != 1:
        raise SystemExit("the runs do not share a test split: an ensemble is scored on images none of them saw")
    samples = split_samples(args.runs[0], "test")[0]
    paths = [model_paths(r)[int8_model({n for n, f in model_paths(r).items() if f.is_file()})] for r in args.runs]
    engines = [Engine(path, threads=1) for path in paths]
    t0 = time.perf_counter()
    rows = {str(r): score(e, samples) for r, e in zip(args.runs, engines)}
    rows["average of all"] = score(Averaged(engines), samples)
    result = {"machine": machine_info(), "note": args.note, "images": len(samples), "models": [str(x) for x in paths]}
    result["rows"], result["seconds"] = rows, round(time.perf_counter() - t0, 1)
    lines = [
        "| model | fascia Dice | mean IoU | wrong structure | wrong, reported good | right, flagged | inference ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['fascia_dice']:.3f} | {r['mean_iou']:.3f} | {r['wrong']} ({r['wrong_share']:.1%}) | "
            f"{r['wrong_good']} ({r['wrong_good_share']:.1%}) | {r['right_flagged_share']:.1%} | "
            f"{r['inference_ms_p50']:.1f} |"
        )
    table = "\n".join(lines)
    intro = f"{len(samples)} images of the held-out split the runs share, int8, 1 thread, the on-device path."
    face, log = keep_run(result, "ensemble", HEAD, table, intro=intro)
    print(table)
    print(f"wrote {face}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
