"""ARM conformance: the same inputs through tlfseg on x86 and on emulated Raspberry Pi cores, byte for byte.

The x86 side runs `worker.py` with this machine's Python; each ARM side runs the same script with the
aarch64 wheels of the `edge` extra inside a cached Debian arm64 rootfs under
``qemu-aarch64-static -cpu CORE`` (see `armroot`). Compared per input:

- ``raw``: the engine's raw int8 output for the x86-preprocessed input tensor (model + runtime alone);
- the predict path, stage by stage: ``roi`` (B-mode detection), ``tensor`` (preprocessing), ``probs``
  (inference), ``labels`` (the native label map), ``cli`` (the label map `tlfseg predict` wrote for the
  folder); the first stage that differs is where a difference starts.

Inputs: frames of the synthetic phantom (`edge.live.phantom`) and a few real screen captures of the shared
data set, spread over its scanner layouts. LiteRT's default CPU path is compared: the XNNPACK delegate
(the result says which operators LiteRT keeps on its own kernels). Emulation is 30-40x slower than
native, so this checks correctness only; no timing here means anything.

    python tests/arm/conformance.py --cores cortex-a76,cortex-a72   # benchmarks/results/arm_conformance.md

The result: a Markdown face (``--out``) and the whole record beside it in ``raw/`` (`benchmarks.results_log`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(PROJECT)]  # armroot beside this file; the benchmarks package

import armroot  # noqa: E402

from benchmarks.results_log import RESULTS, raw_link, raw_path  # noqa: E402
from edge.core.engine import DEFAULT_MODEL  # noqa: E402
from edge.core.paths import DL_TRACK_APO  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402

DEFAULT_OUT = RESULTS / "arm_conformance.md"
#: the predict path, in order; "cli" is the label map `tlfseg predict` wrote (decoded from its PNG)
STAGES = ("roi", "tensor", "probs", "labels", "cli")
WORKER = f"{armroot.SRC}/tests/arm/worker.py"
XNNPACK_LINE = "XNNPACK delegate"
PHANTOM_STEP = 37  #: frames 0, 37, 74, ...: the probe has moved between them


def compare(x86: np.ndarray, arm: np.ndarray) -> dict:
    """Byte comparison of two arrays; for a difference: how many elements, the first one, the largest gap."""
    if x86.shape != arm.shape or x86.dtype != arm.dtype:
        return {"identical": False, "x86": f"{x86.dtype}{list(x86.shape)}", "arm": f"{arm.dtype}{list(arm.shape)}"}
    if x86.tobytes() == arm.tobytes():
        return {"identical": True, "of": int(x86.size)}
    bits = np.dtype(f"u{x86.dtype.itemsize}")
    differs = x86.view(bits) != arm.view(bits)
    first = np.unravel_index(int(np.argmax(differs)), differs.shape)
    gap = np.abs(x86.astype(np.float64) - arm.astype(np.float64))
    return {
        "identical": False,
        "differing": int(differs.sum()),
        "of": int(differs.size),
        "first_at": [int(i) for i in first],
        "x86_value": x86[first].item(),
        "arm_value": arm[first].item(),
        "max_abs_diff": float(np.nanmax(gap)),
    }


def compare_key(x86: dict, arm: dict, key: str) -> dict:
    """`compare` of one recorded array; a side that did not produce it (see its errors) differs."""
    missing = [side for side, arrays in (("x86", x86), ("arm", arm)) if key not in arrays]
    return {"identical": False, "missing_on": missing} if missing else compare(x86[key], arm[key])


def compare_input(name: str, x86: dict, arm: dict) -> dict:
    """Compare one input's artefacts.

    ``engine_starts_at``: "xnnpack" when the delegate's own result differs, "final_op" when only the op
    LiteRT runs after it does; ``starts_at``: the first predict-path stage that differs. ``conformant``:
    byte-identical except, at most, a 1-step difference from that final op (and the probabilities
    dequantized from it), or float32 probabilities an ulp apart from the runtime's own softmax over
    byte-identical raw outputs, with identical label maps.
    """
    result: dict = {"input": name}
    if f"delegate_out/{name}" in x86:
        result["xnnpack"] = compare_key(x86, arm, f"delegate_out/{name}")
    result["raw"] = compare_key(x86, arm, f"raw/{name}")
    result |= {stage: compare_key(x86, arm, f"{stage}/{name}") for stage in STAGES}
    xnnpack_same = result.get("xnnpack", {"identical": True})["identical"]
    engine_steps = (("xnnpack", xnnpack_same), ("final_op", result["raw"]["identical"]))
    engine_differs = [step for step, same in engine_steps if not same]
    result["engine_starts_at"] = engine_differs[0] if engine_differs else None
    differing = [stage for stage in STAGES if not result[stage]["identical"]]
    result["starts_at"] = differing[0] if differing else None
    result["identical"] = not engine_differs and not differing
    one_step = result["raw"]["identical"] or result["raw"].get("max_abs_diff", 2) <= 1
    only_final_op = "xnnpack" in result and xnnpack_same and one_step and set(differing) <= {"probs"}
    # a model ending in logits: the raw int8 output is the whole graph's (XNNPACK's) result; the softmax
    # numpy then applies on each CPU may round a float32 probability by an ulp (its exp comes from libm)
    probs_ulp = result["probs"]["identical"] or result["probs"].get("max_abs_diff", 1.0) <= 1e-6
    softmax_only = not engine_differs and set(differing) <= {"probs"} and probs_ulp
    result["conformant"] = result["identical"] or only_final_op or softmax_only
    # informational: compressed PNG bytes may differ between zlib builds even for equal pixels
    result["png_file_identical"] = compare_key(x86, arm, f"png/{name}")["identical"]
    return result


def png_layout(path: Path) -> str:
    """A scanner-layout key from a PNG header: "WIDTHxHEIGHT" and c (colour) or g (grey)."""
    head = path.read_bytes()[:26]
    width, height, colour = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), head[25]
    return f"{width}x{height}{'c' if colour in (2, 6) else 'g'}"


def pick_real(data_dir: Path, count: int) -> list[tuple[Path, str]]:
    """`count` real images, taken round-robin over the scanner layouts (each layout in name order)."""
    layouts: dict[str, list[Path]] = {}
    for path in sorted((data_dir / "images").glob("*.png")):
        layouts.setdefault(png_layout(path), []).append(path)
    picked: list[tuple[Path, str]] = []
    for rank in range(max((len(v) for v in layouts.values()), default=0)):
        for key in sorted(layouts, key=lambda k: -len(layouts[k])):
            if rank < len(layouts[key]) and len(picked) < count:
                picked.append((layouts[key][rank], key))
    return picked


def write_inputs(folder: Path, n_phantom: int, real: list[tuple[Path, str]]) -> dict[str, list[str]]:
    """The image files both sides segment: phantom frames saved as PNG (lossless), real images copied."""
    folder.mkdir(parents=True)
    sets: dict[str, list[str]] = {"phantom": [], "real": []}
    phantom = Phantom()
    for i in range(n_phantom):
        name = f"phantom_{i * PHANTOM_STEP:04d}.png"
        ok, data = cv2.imencode(".png", phantom.frame(i * PHANTOM_STEP).image)
        if not ok:
            raise RuntimeError(f"could not encode {name}")
        data.tofile(folder / name)
        sets["phantom"].append(name)
    for image, _layout in real:
        shutil.copyfile(image, folder / image.name)
        sets["real"].append(image.name)
    return sets


def stream(cmd: list[str], prefix: str, log: Callable[[str], None], timeout: float) -> tuple[int, str]:
    """Run `cmd`, echoing its output lines with `prefix`; return (exit status, output)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            log(f"{prefix} {line.rstrip()}")
            if time.monotonic() > deadline:
                proc.kill()
                lines.append(f"killed after {timeout:.0f} s\n")
                break
        return proc.wait(), "".join(lines)


def load_npz(path: Path) -> tuple[dict, dict]:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, json.loads(arrays.pop("meta").tobytes())


def summarise(results: list[dict]) -> dict:
    """Counts over some inputs' comparisons."""
    raw_diffs = [r["raw"] for r in results if not r["raw"]["identical"]]
    return {
        "inputs": len(results),
        "identical": all(r["identical"] for r in results) if results else None,
        "conformant": all(r["conformant"] for r in results) if results else None,
        # with no final op outside the delegate the raw output is XNNPACK's own result
        "xnnpack_identical": sum(r.get("xnnpack", r["raw"]).get("identical", False) for r in results),
        "raw_identical": sum(r["raw"]["identical"] for r in results),
        "raw_values_differing": sum(d.get("differing", 0) for d in raw_diffs),
        "raw_values_compared": sum(r["raw"].get("of", 0) for r in results),
        "raw_max_abs_diff": max((d.get("max_abs_diff", 0) for d in raw_diffs), default=0),
        "labels_identical": sum(r["labels"]["identical"] and r["cli"]["identical"] for r in results),
    }


def run_core(
    root: armroot.RootFS,
    core: armroot.Core,
    work: Path,
    x86: dict,
    sets: dict[str, list[str]],
    threads: int,
    log: Callable[[str], None],
) -> dict:
    """Probe the core, give it an ARM view of the CPU, run the worker under qemu, compare with x86.

    `work` lies inside the rootfs and holds model.tflite, images/ and the x86 side's out-x86.npz.
    """
    start = time.perf_counter()
    tag = f"[{root.suite} {core.qemu_cpu}]"
    log(f"{tag} probing the emulated CPU's features")
    features = root.probe_features(core)
    view = armroot.write_cpu_view(core, features, work / f"cpu-{core.qemu_cpu}")
    log(f"{tag} {core.board}: {' '.join(features)}")
    log(f"{tag} running {sum(map(len, sets.values()))} inputs under qemu (emulated: slow, correctness only)")
    inside = "/" + str(work.relative_to(root.path))
    out = work / f"out-{core.qemu_cpu}.npz"
    argv = [armroot.VENV_PYTHON, WORKER, f"{inside}/model.tflite", f"{inside}/images", f"{inside}/{out.name}"]
    argv += ["--reference", f"{inside}/out-x86.npz", "--threads", str(threads)]
    status, output = stream(root.command(core, argv, view), tag, log, timeout=3600)
    record = {"board": core.board, "qemu_cpu": core.qemu_cpu, "features": features}
    record["no_sve_i8mm"] = not {"sve", "sve2", "i8mm", "svei8mm"} & set(features)
    if status != 0:
        record |= {"identical": False, "error": f"worker exited with {status}", "output_tail": output[-3000:]}
        return record
    arm, meta = load_npz(out)
    results = [compare_input(name, x86, arm) for names in sets.values() for name in names]
    record |= {
        "errors": meta["errors"],
        "identical": all(r["identical"] for r in results),
        "conformant": all(r["conformant"] for r in results),
        "xnnpack_delegate": XNNPACK_LINE in output,
        "sets": {key: summarise([r for r in results if r["input"] in names]) for key, names in sets.items()},
        "differences": [r for r in results if not r["identical"]],
        "side": meta,
        "wall_s": round(time.perf_counter() - start, 1),
    }
    log(f"{tag} {describe(record)} ({record['wall_s']} s)")
    return record


FALLBACK = "x86-tflite-runtime"

#: the negative control: QEMU's `max` CPU (SVE, SME, i8mm: no Pi has them), with the Pi 5's cpuinfo otherwise
CONTROL = replace(armroot.CORES["cortex-a76"], qemu_cpu="max", board="QEMU max CPU (negative control, not a board)")


def run_conformance(
    cores: list[str],
    suites: tuple[str, ...] = ("bookworm",),
    n_phantom: int = 3,
    n_real: int = 6,
    model: Path = DEFAULT_MODEL,
    data_dir: Path = DL_TRACK_APO,
    threads: int = 1,
    control: bool = False,
    fallback: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """The whole comparison, every core in every suite's rootfs; returns the result record.

    ``fallback``: also run the inputs on x86 through tflite-runtime (`armroot.FALLBACK_RUNTIME`, the
    runtime a 32-bit Pi OS has to use) and compare with ai-edge-litert.

    ``control``: also run the inputs on QEMU's `max` CPU (in the first suite), which must come out
    different: it shows that the comparison can fail (XNNPACK computes wrong int8 results there).
    """
    start = time.perf_counter()
    unknown = [c for c in cores if c not in armroot.CORES]
    if unknown:
        raise ValueError(f"unknown core {', '.join(unknown)} (known: {', '.join(armroot.CORES)})")
    roots = [armroot.RootFS(suite) for suite in suites]
    reason = armroot.unavailable() or next(filter(None, (root.missing() for root in roots)), None)
    if reason:
        raise RuntimeError(reason)
    real = pick_real(data_dir, n_real) if n_real and (data_dir / "images").is_dir() else []
    if n_real and not real:
        log(f"real data set not found at {data_dir}: phantom frames only")
    per_suite: dict[str, dict] = {}
    negative = None
    with armroot.locked(), tempfile.TemporaryDirectory(prefix="tlfseg-conformance-") as tmp:
        host = Path(tmp)
        shutil.copyfile(model, host / "model.tflite")
        sets = write_inputs(host / "images", n_phantom, real)
        x86, x86_meta = run_x86(host, sum(map(len, sets.values())), threads, log)
        other = run_fallback(host, x86, sets, threads, log) if fallback else None
        for root in roots:
            root.sync_project()
            work = root.path / "tmp" / "tlfseg-conformance"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(host, work)
            try:
                done = {name: run_core(root, armroot.CORES[name], work, x86, sets, threads, log) for name in cores}
                if control and negative is None:
                    negative = run_core(root, CONTROL, work, x86, sets, threads, log)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            per_suite[root.suite] = {"packages": root.frozen_packages(), "cores": done}
    every = {f"{suite} {name}": c for suite, v in per_suite.items() for name, c in v["cores"].items()}
    layouts = {image.name: layout for image, layout in real}
    result = {
        "what": "raw int8 outputs and predict-path label maps, x86 vs emulated Raspberry Pi cores, byte for byte",
        "path": "LiteRT CPU default: XNNPACK delegate, "
        f"{threads} thread(s); operators on LiteRT's own kernels: {x86_meta['ops_outside_delegate']}",
        "identical": all(c["identical"] for c in every.values()),
        "conformant": all(c.get("conformant", False) for c in every.values()),
        "summary": {key: describe(c) for key, c in every.items()},
        "model": {"file": model.name, "sha256": x86_meta["model_sha256"]},
        "inputs": {"phantom": sets["phantom"], "real": [f"{n} ({layouts[n]})" for n in sets["real"]]},
        "x86": x86_meta,
        "suites": per_suite,
        "emulator": armroot.qemu_version(),
        "elapsed_s": round(time.perf_counter() - start, 1),
        "note": "emulation is 30-40x slower than native: wall times here are not board timings",
    }
    if other is not None:
        result[FALLBACK] = other
        result["summary"][FALLBACK] = describe_fallback(other)
    if negative is not None:
        result["control"] = negative | {"detected": not negative.get("conformant", True)}
        result["summary"]["control: -cpu max"] = describe(negative)
    return result


def run_host_side(
    python: str, work: Path, name: str, log: Callable[[str], None], threads: int, extra_env: dict | None = None
) -> tuple[int, str]:
    """Run the worker on this machine with `python`, writing ``work/out-NAME.npz``."""
    cmd = [python, str(HERE / "worker.py"), str(work / "model.tflite"), str(work / "images")]
    cmd += [str(work / f"out-{name}.npz"), "--threads", str(threads)]
    if name != "x86":  # compare the engine on the reference side's input tensors
        cmd += ["--reference", str(work / "out-x86.npz")]
    if extra_env:
        cmd = ["env", *(f"{k}={v}" for k, v in extra_env.items()), *cmd]
    return stream(cmd, f"[{name}]", log, 900)


def run_x86(work: Path, count: int, threads: int, log: Callable[[str], None]) -> tuple[dict, dict]:
    """The reference side: the worker with this machine's Python."""
    log(f"[x86] running {count} inputs natively")
    status, output = run_host_side(sys.executable, work, "x86", log, threads)
    if status != 0:
        raise RuntimeError(f"the x86 worker failed (exit {status}):\n{output[-3000:]}")
    x86, meta = load_npz(work / "out-x86.npz")
    meta["xnnpack_delegate"] = XNNPACK_LINE in output
    return x86, meta


def run_fallback(work: Path, x86: dict, sets: dict[str, list[str]], threads: int, log: Callable[[str], None]) -> dict:
    """The same inputs on x86 through tflite-runtime (what a 32-bit Pi OS gets), compared with ai-edge-litert."""
    python = armroot.fallback_python()
    log(f"[{FALLBACK}] the interpreter fallback of boards without ai-edge-litert wheels, on x86")
    status, output = run_host_side(python, work, FALLBACK, log, threads, {"PYTHONPATH": str(PROJECT)})
    if status != 0:
        return {"conformant": False, "error": f"worker exited with {status}", "output_tail": output[-3000:]}
    other, meta = load_npz(work / f"out-{FALLBACK}.npz")
    results = [compare_input(name, x86, other) for names in sets.values() for name in names]
    labels = [r["labels"] for r in results]
    raws = [(x86[f"raw/{n}"], other[f"raw/{n}"]) for names in sets.values() for n in names if f"raw/{n}" in other]
    return {
        "runtime": meta["runtime"],
        "errors": meta["errors"],
        "xnnpack_delegate": XNNPACK_LINE in output,
        "identical": all(r["identical"] for r in results),
        "conformant": all(r["conformant"] for r in results),
        "sets": {key: summarise([r for r in results if r["input"] in names]) for key, names in sets.items()},
        "label_pixels_differing": sum(d.get("differing", 0) for d in labels),
        "label_pixels": sum(d["of"] for d in labels if "of" in d),
        # the argmax of the raw output: labels at the model's resolution, even where the label maps failed
        "model_labels_differing": sum(int((a.argmax(-1) != b.argmax(-1)).sum()) for a, b in raws),
        "model_labels": sum(a.shape[0] * a.shape[1] for a, _ in raws),
        "differences": [r for r in results if not r["identical"]],
        "side": meta,
    }


def describe(core: dict) -> str:
    """One line on a core's result."""
    if "error" in core:
        return f"FAILED: {core['error']}"
    if core["errors"]:
        return f"FAILED: {core['errors']}"
    n = sum(v["inputs"] for v in core["sets"].values())
    if core["identical"]:
        return f"byte-identical to x86 on all {n} inputs (XNNPACK output, raw int8 output, every predict stage)"
    diffs = core["differences"]
    if core["conformant"] and core["side"]["final_op"] is None:
        worst = max(d["probs"].get("max_abs_diff", 0.0) for d in diffs)
        return (
            f"raw int8 output (the whole graph in XNNPACK) and label maps byte-identical to x86 on all {n} inputs; "
            f"the runtime's float32 softmax differs by at most {worst:.1e} on {len(diffs)} of the {n} inputs"
        )
    if core["conformant"]:
        values = sum(v["raw_values_differing"] for v in core["sets"].values())
        of = sum(v["raw_values_compared"] for v in core["sets"].values())
        return (
            f"XNNPACK output and label maps byte-identical to x86 on all {n} inputs; the final op "
            f"({core['side']['final_op']}, LiteRT's own int8 kernel) differs by 1 step in {values} of {of} "
            f"output values, on {len(diffs)} of the {n} inputs"
        )
    bad = [d for d in diffs if not d["conformant"]]
    return "DIFFERENT: " + ", ".join(f"{d['input']} from {d['engine_starts_at'] or d['starts_at']}" for d in bad)


def describe_fallback(side: dict) -> str:
    if "error" in side:
        return f"FAILED: {side['error']}"
    raw = sum(v["raw_values_differing"] for v in side["sets"].values())
    of = sum(v["raw_values_compared"] for v in side["sets"].values())
    return (
        f"{side['runtime']} on x86 vs ai-edge-litert: XNNPACK delegate {'on' if side['xnnpack_delegate'] else 'off'}; "
        f"{raw} of {of} raw values, {side['model_labels_differing']} of {side['model_labels']} labels at the "
        f"model's resolution and {side['label_pixels_differing']} of {side['label_pixels']} label-map pixels differ"
        + (f"; errors: {side['errors']}" if side["errors"] else "")
    )


def face(result: dict, raw: Path) -> str:
    """The result as Markdown: what was compared on which CPUs, and one line a core (or other side)."""
    boards = {f"{s} {n}": c["board"] for s, v in result["suites"].items() for n, c in v["cores"].items()}
    cpu = result["x86"]["cpu"]
    inputs = result["inputs"]
    lines = [
        "# ARM conformance: x86 against emulated Raspberry Pi cores, byte for byte",
        "",
        f"{result['what'][0].upper()}{result['what'][1:]}: the x86 side on {', '.join(cpu.get('model_name', []))} "
        f"({cpu['machine']}), each ARM core emulated by {result['emulator']}. Model {result['model']['file']} "
        f"(sha256 {result['model']['sha256'][:12]}), {len(inputs['phantom'])} phantom frames and "
        f"{len(inputs['real'])} real images; {result['path']}. {result['note'].capitalize()}.",
        "",
        f"Written by `{result['command']}`. Conformant on every core (label maps and raw int8 output as on x86, "
        f"at most a float32 ulp or a final op's 1 step apart): {'yes' if result['conformant'] else 'NO'}.",
        "",
        "| compared with x86 | result |",
        "|---|---|",
        *(f"| {k}{f' ({boards[k]})' if k in boards else ''} | {line} |" for k, line in result["summary"].items()),
        "",
        f"The whole result: {raw_link(raw)}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="x86 vs emulated Raspberry Pi cores, byte for byte.")
    ap.add_argument("--cores", default="cortex-a76,cortex-a72", help="qemu CPU models (default: Pi 5, Pi 4)")
    ap.add_argument("--suites", default="bookworm,trixie", help="Debian suites of the rootfs (default: both)")
    ap.add_argument("--phantom", type=int, default=3, help="phantom frames (default 3)")
    ap.add_argument("--real", type=int, default=6, help="real images, spread over the scanner layouts (default 6)")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the .tflite model (default: bundled)")
    ap.add_argument("--data", type=Path, default=DL_TRACK_APO, help="real data set folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-control", action="store_true", help="skip the negative control on QEMU's max CPU")
    ap.add_argument("--no-fallback", action="store_true", help="skip tflite-runtime on x86 (the 32-bit Pi OS runtime)")
    ap.add_argument("--build", action="store_true", help="build the rootfs of each suite first if it is not cached")
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="the result as Markdown; the JSON goes to raw/ beside it"
    )
    args = ap.parse_args(argv)
    reason = armroot.unavailable()
    if reason:
        print(f"cannot emulate: {reason}", file=sys.stderr)
        return 2
    suites = tuple(s.strip() for s in args.suites.split(",") if s.strip())
    for root in map(armroot.RootFS, suites):
        if root.missing():
            if not args.build:
                print(f"{root.missing()}; or pass --build", file=sys.stderr)
                return 2
            root.build()

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    cores = [c.strip() for c in args.cores.split(",") if c.strip()]
    control = not args.no_control
    result = run_conformance(cores, suites, args.phantom, args.real, args.model, args.data, args.threads, control, log)
    result["command"] = "python tests/arm/conformance.py " + " ".join(argv if argv is not None else sys.argv[1:])
    raw = raw_path(args.out)
    raw.write_text(json.dumps(result, indent=2) + "\n")
    args.out.write_text(face(result, raw))
    for name, line in result["summary"].items():
        print(f"{name}: {line}")
    print(f"wrote {args.out} and {raw}")
    return 0 if result["conformant"] and result.get("control", {}).get("detected", True) else 1


if __name__ == "__main__":
    sys.exit(main())
