"""One side of the ARM conformance comparison: run the same inputs through tlfseg on this machine.

Runs unchanged on x86 and, under qemu, on aarch64; needs only the `edge` extra. For every input it
records, as bytes:

- ``raw``: the engine's raw output tensor for the reference input tensor (the x86 side's preprocessing),
  so that the model + runtime are compared on identical input;
- ``tensor``, ``roi``, ``labels``, ``probs``: the predict path on this machine (decode -> ROI detection ->
  preprocessing -> engine -> postprocessing, through `edge.segmenter.Segmenter`).

    python worker.py MODEL INPUTS.npz OUT.npz [--reference X86_OUT.npz] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import numpy as np
from cpufeatures import cpu_features  # beside this file

from edge.engine import Engine
from edge.imagefiles import read_image
from edge.segmenter import Segmenter


def builtin_ops(engine: Engine) -> dict[str, int]:
    """Operators LiteRT runs with its own kernels instead of the delegate (XNNPACK): those whose outputs
    feed a delegate partition or the graph's output without coming out of one; all of them if nothing
    was delegated."""
    ops = engine.op_details()
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    delegate_out = {int(t) for op in delegates for t in op["outputs"]}
    boundary = {int(t) for op in delegates for t in op["inputs"]}
    boundary |= {int(d["index"]) for d in engine.interpreter.get_output_details()}
    names = [
        op["op_name"]
        for op in ops
        if op["op_name"] != "DELEGATE"
        and (not delegates or any(int(t) in boundary and int(t) not in delegate_out for t in op["outputs"]))
    ]
    return dict(Counter(names))


def decode_inputs(inputs: np.lib.npyio.NpzFile, work: Path) -> list[tuple[str, np.ndarray]]:
    """(name, frame) per input: arrays as given, encoded files decoded here with `read_image`."""
    frames = []
    for name in inputs["names"].tolist():
        key = f"frame/{name}"
        if key in inputs:
            frames.append((name, inputs[key]))
        else:
            path = work / name
            path.write_bytes(inputs[f"file/{name}"].tobytes())
            frames.append((name, read_image(path)))
    return frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("inputs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--reference", type=Path, help="the x86 side's output: its tensors are fed to the engine")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    engine = Engine(args.model, threads=args.threads)
    segmenter = Segmenter(engine)
    work = args.out.parent / f"{args.out.stem}-files"
    work.mkdir(parents=True, exist_ok=True)
    reference = np.load(args.reference) if args.reference else None
    out: dict[str, np.ndarray] = {}
    with np.load(args.inputs) as inputs:
        frames = decode_inputs(inputs, work)
    for i, (name, frame) in enumerate(frames, 1):
        seg = segmenter(frame)
        tensor = segmenter.preprocessor(frame).tensor
        ref_tensor = reference[f"tensor/{name}"] if reference is not None else tensor
        out[f"raw/{name}"] = engine.run_raw(ref_tensor)
        out[f"tensor/{name}"] = tensor
        out[f"roi/{name}"] = np.array([seg.roi.x, seg.roi.y, seg.roi.w, seg.roi.h], np.int32)
        out[f"labels/{name}"] = seg.labels
        out[f"probs/{name}"] = seg.probs
        print(f"[{i}/{len(frames)}] {name}: ROI {seg.roi}", file=sys.stderr, flush=True)
    meta = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": version("opencv-python-headless"),
        "ai_edge_litert": version("ai-edge-litert"),
        "engine": engine.describe(),
        "model_sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        "ops_outside_delegate": builtin_ops(engine),
        "delegate_partitions": sum(op["op_name"] == "DELEGATE" for op in engine.op_details()),
        "cpu": cpu_features(),
    }
    out["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(args.out, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
