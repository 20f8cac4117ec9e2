"""One side of the ARM conformance comparison: run the same image files through tlfseg on this machine.

Runs unchanged on x86 and, under qemu, on aarch64; needs only the `edge` extra. For every image it
records, as arrays:

- ``raw/NAME``: the engine's raw output tensor for the reference input tensor (the x86 side's
  preprocessing), so that the model + runtime are compared on identical input;
- ``delegate_out/NAME``: for that run, the input of the model's final op when LiteRT runs that op on its
  own kernel (the int8 softmax, which XNNPACK does not take): the delegate's (XNNPACK's) last result;
- ``roi/``, ``tensor/``, ``probs/``, ``labels/``: the predict path on this machine, stage by stage (decode ->
  B-mode detection -> preprocessing -> engine -> postprocessing, through `edge.live.pipeline.FramePipeline`);
- ``cli/NAME`` and ``png/NAME``: the label map `tlfseg predict` wrote for the folder (decoded), and the
  bytes of that PNG file.

    python worker.py MODEL IMAGES_DIR OUT.npz [--reference X86_OUT.npz] [--threads 1]
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

import cv2
import numpy as np
from cpufeatures import cpu_features  # beside this file

from edge.core.engine import Engine
from edge.core.imagefiles import list_images, read_image
from edge.live.pipeline import FramePipeline
from edge.tools.cli import main as cli_main

RUNTIME_DIST = {"tensorflow.lite": "tensorflow"}  #: interpreter backend -> its distribution, where they differ


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


def final_op(engine: Engine) -> tuple[str, int] | None:
    """(name, input tensor) of the op that writes the model's output when LiteRT runs it outside the delegate.

    Its input is then the last delegate partition's (XNNPACK's) result, still intact after ``invoke()``
    because nothing runs after that op; None when the delegate writes the output itself.
    """
    ops = engine.op_details()
    output = int(engine.interpreter.get_output_details()[0]["index"])
    produced = {int(t) for op in ops for t in op["outputs"]}
    writers = [op for op in ops if output in {int(t) for t in op["outputs"]}]
    # a delegated op stays listed beside the DELEGATE node that runs it: then the delegate writes the output
    if not writers or any(op["op_name"] == "DELEGATE" for op in writers):
        return None
    writer = writers[0]
    if not any(op["op_name"] == "DELEGATE" for op in ops):
        return None
    inputs = [int(t) for t in writer["inputs"] if int(t) in produced]
    return (writer["op_name"], inputs[0]) if len(inputs) == 1 else None


def engine_outputs(engine: Engine, last: tuple[str, int] | None, name: str, tensor: np.ndarray) -> dict:
    """The raw output for `tensor` and, where LiteRT runs the final op itself, that op's input."""
    out = {f"raw/{name}": engine.run_raw(tensor)}
    if last is not None:
        out[f"delegate_out/{name}"] = engine.interpreter.get_tensor(last[1])[0]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("images", type=Path, help="folder of the image files to segment")
    ap.add_argument("out", type=Path)
    ap.add_argument("--reference", type=Path, help="the x86 side's output: its tensors are fed to the engine")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    predict_dir = args.out.parent / f"{args.out.stem}-predict"
    predict = ["predict", "--images", str(args.images), "--out", str(predict_dir), "--model", str(args.model)]
    errors: dict[str, str] = {}  # what failed, with the reason; everything else is still recorded
    try:
        status = cli_main([*predict, "--threads", str(args.threads)])
        if status != 0:
            errors["tlfseg predict"] = f"exit status {status}"
    except Exception as exc:  # a crash here is a finding to report, not a reason to stop
        errors["tlfseg predict"] = f"{type(exc).__name__}: {exc}"
    engine = Engine(args.model, threads=args.threads)
    segmenter = FramePipeline(engine, video=False)
    reference = np.load(args.reference) if args.reference else None
    last = final_op(engine)
    out: dict[str, np.ndarray] = {}
    paths = list_images(args.images)
    for i, path in enumerate(paths, 1):
        name = path.name
        if reference is not None:  # the engine alone, on the reference side's input tensor
            out |= engine_outputs(engine, last, name, reference[f"tensor/{name}"])
        try:
            frame = read_image(path)
            seg = segmenter(frame)
            tensor = segmenter.preprocessor(frame, seg.roi).tensor
            if reference is None:
                out |= engine_outputs(engine, last, name, tensor)
            out[f"roi/{name}"] = np.array([seg.roi.x, seg.roi.y, seg.roi.w, seg.roi.h], np.int32)
            out[f"tensor/{name}"] = tensor
            out[f"probs/{name}"] = seg.probs
            out[f"labels/{name}"] = seg.labels
            if "tlfseg predict" not in errors:
                written = predict_dir / f"{path.stem}.png"
                out[f"cli/{name}"] = read_image(written)
                out[f"png/{name}"] = np.fromfile(written, np.uint8)
        except Exception as exc:  # recorded per image; the other images go on
            errors[name] = f"{type(exc).__name__}: {exc}"
        print(f"[{i}/{len(paths)}] {name}: {errors.get(name, 'stages recorded')}", file=sys.stderr, flush=True)
    meta = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "runtime": f"{engine.backend} {version(RUNTIME_DIST.get(engine.backend, engine.backend))}",
        "engine": engine.describe(),
        "model_sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        "ops_outside_delegate": builtin_ops(engine),
        "final_op": last[0] if last else None,
        "delegate_partitions": sum(op["op_name"] == "DELEGATE" for op in engine.op_details()),
        "cpu": cpu_features(),
        "errors": errors,
    }
    out["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(args.out, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
