"""Model speed against the issue-5 targets: model alone, whole frame, int8 vs float32, paper-faithful baseline.

    nice -n 10 .venv/bin/python benchmarks/bench_models.py                 # default models, 30 repeats
    nice -n 10 .venv/bin/python benchmarks/bench_models.py a.tflite b.tflite --repeats 50

Everything runs on 1 thread (LiteRT and OpenCV alike: OpenCV otherwise spreads its resizes and colour
conversions over every core) through the runtime's own parts (`Engine`, `FramePipeline` with its ROI policies,
`draw_overlay`), each timing the median of repeated runs taken round robin over all models, so that background
load hits every model alike.

1. Model alone (`Engine.run_raw`: quantize input, invoke, read output) for a paper-faithful U-Net (64 base filters,
   float32, 256x256, untrained: the weights do not change a dense CNN's time), every given model, and an untrained
   float32 twin of each int8 model without a float32 partner next to it. The baseline and twins are built once
   with TensorFlow (the training extra) in a child process and cached in ~/.cache/tlfseg-bench/.
2. Whole frame per int8 model: a 1920x1080 BGR phantom capture -> `FramePipeline` (ROI, preprocess, inference,
   postprocess to native) -> measure -> overlay, per stage, for the first frame (ROI detection), the live loop's
   steady state with automatic ROI (`TrackedRoi`'s layout check) and with a fixed ROI.
3. int8 vs float32 of the same architecture, and the issues' targets, each met or not: issue 5's (model alone,
   whole frame, speed-up) and issue 28's (the whole 1080p frame within the model's time + 2 ms, live p95 within 1.5x
   p50).
4. Where the time goes around the model (`benchmarks.frame_profile`): each stage of the first int8 model's live frame
   profiled on its own, per function, on the 1080p capture and on the shared set's three commonest image sizes (each
   layout's B-mode area detected once and fixed, as on a live scanner; left out where the set is absent).

Default models: edge/models/*.tflite, runs/*/qat_int8.tflite, runs/*/float32.tflite. Results are appended to
benchmarks/results/models.md (newest first), naming the machine and its load, each run's whole result to
benchmarks/results/raw/models.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.frame_profile import StageProfile, live_frame, profile_frames  # noqa: E402
from benchmarks.frame_profile import table as profile_table  # noqa: E402
from benchmarks.results_log import RESULTS, keep_run  # noqa: E402
from edge.core.engine import Engine  # noqa: E402
from edge.core.imagefiles import list_images, read_image  # noqa: E402
from edge.core.latency import PAPER_MS_PER_IMAGE  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.core.paths import DL_TRACK_APO  # noqa: E402
from edge.core.preprocess import Preprocessor  # noqa: E402
from edge.core.roi import Box, detect_bmode_roi  # noqa: E402
from edge.core.roi_policy import DetectedRoi, TrackedRoi  # noqa: E402
from edge.live.phantom import Phantom  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.measurement.measure import Calibration  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tlfseg-bench"
SCREEN = (1080, 1920)  #: capture frame (rows, columns)
BMODE = Box(460, 90, 1000, 900)  #: the B-mode area on it: 1000 wide, 900 tall
DEPTH_MM = 40.0  #: scanner depth setting, for mm per pixel
PAPER_FILTERS, PAPER_SIZE = 64, (256, 256)
TARGET_MODEL_MS, TARGET_FRAME_MS, TARGET_SPEEDUP = 6.0, 10.0, 100.0
TARGET_AROUND_MS, TARGET_TAIL = 2.0, 1.5  #: issue 28: whole frame - model <= 2 ms; live p95 <= 1.5x p50
LAYOUTS, LAYOUT_FRAMES = 3, 6  #: profiled: the shared set's commonest image sizes, frames of each
STAGES = ("roi", "preprocess", "inference", "postprocess", "measure", "overlay")
MODES = {
    "detect": "first frame: ROI detected",
    "tracker": "live, auto ROI (layout check)",
    "fixed": "live, fixed ROI",
}
HEAD = (
    "# Model speed (issues 5 and 28): model alone, whole frame, int8 vs float32, where the frame's time goes\n\n"
    "Written by `benchmarks/bench_models.py`. Median ms (p10-p90) on 1 thread, models taken round robin: each "
    "model alone, the whole frame stage by stage in wall time and in the thread's CPU time, int8 against float32 of "
    "one architecture; the speed-up over the paper-faithful U-Net, and the issues' speed targets met or not; each "
    "stage around the model split by function, on a 1080p capture and the shared set's commonest sizes. Each run "
    "names its load: under load, compare the ratios within a run and the CPU rows, not ms across runs.\n"
)


@dataclass(frozen=True)
class UNetSpec:
    """The architecture of a `quantization.unet.build_unet` model, enough to build an untrained twin."""

    base_filters: int
    input_size: tuple[int, int]
    depth: int = 4
    stem: int = 1

    @property
    def name(self) -> str:
        stem = f"_stem{self.stem}" if self.stem > 1 else ""
        return f"unet{self.base_filters}{stem}_d{self.depth}_{self.input_size[0]}x{self.input_size[1]}_float32"

    @classmethod
    def of(cls, engine: Engine) -> UNetSpec | None:
        """Read from the model's tensor names ('unet8_stem2/enc3_conv1/...'); None for another kind of model."""
        names = " ".join(t["name"] for t in engine.interpreter.get_tensor_details())
        found = re.search(r"\bunet(\d+)(?:_stem(\d+))?/", names)
        levels = set(re.findall(r"/(?:quant_)?enc(\d+)_", names))  # QAT prefixes layers with quant_
        if not found or not levels:
            return None
        return cls(int(found.group(1)), engine.input_size, len(levels), int(found.group(2) or 1))


@dataclass
class Entry:
    """One timed model."""

    label: str
    path: Path
    role: str  #: "baseline", "given" or "twin"
    engine: Engine
    note: str = ""

    @property
    def precision(self) -> str:
        return self.engine.precision


_BUILD = """
import json, os, sys
from pathlib import Path
from quantization.convert import to_tflite
from quantization.unet import build_unet
for s in json.loads(sys.argv[1]):
    model = build_unet(s["base_filters"], tuple(s["input_size"]), depth=s["depth"], stem=s["stem"])
    tmp = Path(s["path"] + ".part")
    tmp.write_bytes(to_tflite(model))
    os.replace(tmp, s["path"])
    print(f"  built {s['path']}", flush=True)
"""


def build_float(specs: list[UNetSpec], cache: Path, progress) -> dict[UNetSpec, Path]:
    """Untrained float32 .tflite models for `specs`, built once (TensorFlow, in a child process) and cached."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = {s: cache / f"{s.name}.tflite" for s in specs}
    todo = [s for s, p in paths.items() if not p.is_file()]
    if todo:
        progress(f"building {len(todo)} float32 model(s) with TensorFlow (once; cached in {cache}) ...")
        job = [{**s.__dict__, "input_size": list(s.input_size), "path": str(paths[s])} for s in todo]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(
            [sys.executable, "-c", _BUILD, json.dumps(job)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise SystemExit(f"building float32 models failed (needs the training extra, TensorFlow):\n{tail}")
        progress(done.stdout.rstrip())
    return paths


def default_models() -> list[Path]:
    found = sorted((ROOT / "edge" / "models").glob("*.tflite"))
    for run in sorted(p for p in (ROOT / "runs").glob("*") if p.is_dir()):
        found += [run / name for name in ("qat_int8.tflite", "float32.tflite") if (run / name).is_file()]
    return found


def label_of(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def float_partner(path: Path) -> Path | None:
    """The float32 model written next to an int8 one (tlfseg_unet_int8 -> tlfseg_unet_float32, qat_int8 -> float32)."""
    for candidate in (path.with_name(path.name.replace("int8", "float32")), path.with_name("float32.tflite")):
        if candidate != path and candidate.is_file():
            return candidate
    return None


def collect(models: list[Path], baseline_filters: int, twins: bool, cache: Path, progress):
    """(entries to time, int8/float32 pairs as (int8 entry, float entry))."""
    given: dict[str, Entry] = {}  #: by content: a run's model copied into edge/models/ is timed once

    def add(path: Path) -> None:
        engine = Engine(path, threads=1)  # checks the file first
        key = digest(path)
        if key in given:
            progress(f"  {label_of(path)}: the same file as {given[key].label}, timed once")
        else:
            given[key] = Entry(label_of(path), path, "given", engine)

    for path in models:
        add(path)
    for entry in list(given.values()):  # a float32 partner next to an int8 model is timed with it
        partner = float_partner(entry.path) if entry.precision != "float32" else None
        if partner is not None and digest(partner) not in given:
            add(partner)

    pairs: list[tuple[Entry, Entry | UNetSpec]] = []
    for entry in [e for e in given.values() if e.precision != "float32"]:
        partner = float_partner(entry.path)
        twin = given.get(digest(partner)) if partner is not None else None
        if twin is not None and twin.engine.input.shape == entry.engine.input.shape:
            pairs.append((entry, twin))
        elif twins and (spec := UNetSpec.of(entry.engine)) is not None:
            pairs.append((entry, spec))
        else:
            entry.note = "no float32 partner" + ("" if twins else " (twins off)")

    baseline = UNetSpec(baseline_filters, PAPER_SIZE)
    specs = list(dict.fromkeys([baseline] + [p for _, p in pairs if isinstance(p, UNetSpec)]))
    built = build_float(specs, cache, progress)
    faithful = "paper-faithful" if baseline_filters == PAPER_FILTERS else "NOT paper-faithful"
    base_label = f"U-Net {baseline_filters} base ({faithful}, untrained)"
    base = Entry(base_label, built[baseline], "baseline", Engine(built[baseline], threads=1))
    twin_entries: dict[UNetSpec, Entry] = {}
    resolved = []
    for int8, partner in pairs:
        if isinstance(partner, UNetSpec):
            if partner not in twin_entries:
                engine = Engine(built[partner], threads=1)
                twin_entries[partner] = Entry(f"{partner.name} (untrained twin)", built[partner], "twin", engine)
            partner = twin_entries[partner]
        resolved.append((int8, partner))
    return [base, *given.values(), *twin_entries.values()], resolved


def stats(values: list[float]) -> dict:
    v = np.asarray(values, float)
    p10, p50, p90, p95 = (round(float(x), 3) for x in np.percentile(v, [10, 50, 90, 95]))
    return {"n": int(v.size), "median": p50, "p10": p10, "p90": p90, "p95": p95}


def phantom_frames(count: int) -> tuple[list[np.ndarray], Box]:
    phantom = Phantom(screen=SCREEN, roi=BMODE)
    return [phantom.frame(i * 7).image for i in range(count)], phantom.roi


def time_models(entries: list[Entry], frame: np.ndarray, repeats: int, warmup: int, progress) -> dict[str, list]:
    """Interleaved: every round runs each model once, alternating the order, so load and caches hit all alike."""
    inputs = [Preprocessor(e.engine.input_size)(frame, BMODE).tensor for e in entries]
    for _ in range(warmup):
        for e, x in zip(entries, inputs):
            e.engine.run_raw(x)
    samples: dict[str, list[float]] = {e.label: [] for e in entries}
    order = list(zip(entries, inputs))
    t_start = time.perf_counter()
    for r in range(repeats):
        for e, x in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            e.engine.run_raw(x)
            samples[e.label].append((time.perf_counter() - t0) * 1e3)
        if (r + 1) % max(1, repeats // 5) == 0 or r + 1 == repeats:
            progress(f"  model alone: round {r + 1}/{repeats} ({time.perf_counter() - t_start:.0f} s)")
    return samples


def mode_pipeline(engine: Engine, mode: str, true_roi: Box) -> FramePipeline:
    """The frame pipeline of each timing mode: the ROI detected on every frame (as on the first one), tracked with
    the layout check, or fixed."""
    roi = {"detect": DetectedRoi(), "tracker": TrackedRoi(), "fixed": true_roi}[mode]
    return FramePipeline(engine, roi, calibration=Calibration(depth_mm=DEPTH_MM))


def time_frames(entries: list[Entry], frames: list[np.ndarray], true_roi: Box, repeats: int, warmup: int, progress):
    """Whole frame per int8 model and mode, interleaved like `time_models`. Returns (samples: {(model, mode): {"wall"
    and "cpu": {stage: ms}}}, ROIs seen)."""
    runs = []
    for e in entries:
        for mode in MODES:
            pipeline = mode_pipeline(e.engine, mode, true_roi)
            pipeline(frames[0])  # the first frame's detection happens before the steady state
            runs.append((e, mode, pipeline))
    samples = {(e.label, m): {"wall": {}, "cpu": {}} for e, m, _ in runs}
    rois: dict[str, str] = {}
    i = 0
    for r in range(warmup + repeats):
        for e, mode, pipeline in runs if r % 2 == 0 else runs[::-1]:
            result, wall, cpu = live_frame(pipeline, frames[i % len(frames)])
            i += 1
            rois[mode] = str(result.roi)
            for clock, out in (("wall", wall), ("cpu", cpu)) if r >= warmup else ():
                out["around_model"] = out["total"] - out["inference"]
                for stage, ms in out.items():
                    samples[(e.label, mode)][clock].setdefault(stage, []).append(ms)
        done = r + 1 - warmup
        if done > 0 and (done % max(1, repeats // 5) == 0 or done == repeats):
            progress(f"  whole frame: round {done}/{repeats}")
    return samples, rois


def layouts(data: Path, count: int = LAYOUTS, most: int = LAYOUT_FRAMES) -> list[tuple[str, list[np.ndarray]]]:
    """The shared set's `count` commonest image sizes: ('WxH (n images)', up to `most` of them, by name); none
    without the set."""
    folder = data / "images"
    by_size: dict[tuple[int, int], list[np.ndarray]] = {}
    for path in list_images(folder) if folder.is_dir() else []:
        image = read_image(path)
        by_size.setdefault((image.shape[1], image.shape[0]), []).append(image)
    common = sorted(by_size.items(), key=lambda kv: -len(kv[1]))[:count]
    return [(f"{w}x{h} ({len(images)} images)", images[:most]) for (w, h), images in common]


def profile_scenes(engine: Engine, frames: list[np.ndarray], true_roi: Box, repeats: int, data: Path, progress):
    """Section 4: [{scene, stages: {stage: {ms, rows}}}] for the 1080p capture (fixed ROI) and the shared set's
    commonest sizes (each layout's B-mode area detected on its first image and fixed)."""
    scenes = [(f"{SCREEN[1]}x{SCREEN[0]} phantom capture, B-mode area {true_roi}", true_roi, frames)]
    for name, images in layouts(data):
        roi = detect_bmode_roi(images[0])
        scenes.append((f"shared set, {name}, B-mode area {roi}", roi, images))
    out = []
    for name, roi, scene_frames in scenes:
        progress(f"  profile: {name}")
        pipeline = mode_pipeline(engine, "fixed", roi)
        pipeline(scene_frames[0])
        stages = profile_frames(pipeline, scene_frames, repeats, passes=max(3, repeats // 5))
        out.append({"scene": name, "stages": {k: asdict(v) for k, v in stages.items()}})
    return out


def why_int8(flags: list[str], ratio: float | None) -> str:
    """One sentence on int8 vs float32 for this CPU's instruction set, then what was measured."""
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        isa = (
            "This CPU reports VNNI (" + ", ".join(f for f in flags if "vnni" in f) + "): XNNPACK's int8 convolution "
            "kernels can use VPDPBUSD, 4 int8 multiply-adds per 32-bit lane in one instruction against 1 fp32 FMA, "
            "so int8 is expected to win on the convolutions, less what requantization and the memory-bound ops "
            "(upsampling, concatenation, softmax, the int8<->float conversion at the ends) cost."
        )
    elif "avx2" in flags:
        isa = (
            "This CPU has AVX2 but no VNNI: XNNPACK's int8 kernels widen int8 to int16 and multiply-add with "
            "VPMADDWD, 2 multiply-adds per 32-bit lane against 1 fp32 FMA at similar throughput, so int8 gains at "
            "most about 2x on the convolutions and gives part of it back to requantization and layout work."
        )
    elif "asimddp" in flags:
        isa = (
            "This ARM CPU has the dot-product extension (SDOT): 4 int8 multiply-adds per 32-bit lane against 1 fp32 "
            "FMA, so int8 is expected to win clearly."
        )
    else:
        isa = "This CPU has no int8 dot-product instructions, so int8 mainly saves memory bandwidth and size."
    if ratio is None:
        return isa
    verdict = f"int8 is {ratio:.2f}x faster" if ratio >= 1 else f"int8 is {1 / ratio:.2f}x slower"
    return f"{isa} Measured here: {verdict} than float32 (median over the pairs)."


def summarise(entries, pairs, model_samples, frame_samples, rois, true_roi, args, machine, profiles) -> dict:
    base = next(e for e in entries if e.role == "baseline")
    base_ms = stats(model_samples[base.label])["median"]
    models = []
    for e in entries:
        s = stats(model_samples[e.label])
        models.append(
            {
                "label": e.label,
                "path": str(e.path),
                "role": e.role,
                "precision": e.precision,
                "input": list(e.engine.input_size),
                "output": list(e.engine.output_size),
                "size_bytes": e.path.stat().st_size,
                "backend": e.engine.backend,
                "ms": s,
                "speedup_vs_baseline": round(base_ms / s["median"], 2),
                "speedup_vs_paper_reported": round(PAPER_MS_PER_IMAGE / s["median"], 2),
                "note": e.note,
            }
        )
    by_label = {m["label"]: m for m in models}
    frames = []
    for (label, mode), clocks in frame_samples.items():
        wall, cpu = ({k: stats(v) for k, v in clocks[c].items()} for c in ("wall", "cpu"))
        frames.append({"model": label, "mode": mode, "stages": wall, "cpu_stages": cpu})
    pair_rows = []
    for int8, flt in pairs:
        i_ms, f_ms = by_label[int8.label]["ms"]["median"], by_label[flt.label]["ms"]["median"]
        pair_rows.append({"int8": int8.label, "float32": flt.label, "int8_ms": i_ms, "float32_ms": f_ms})
        pair_rows[-1]["float_over_int8"] = round(f_ms / i_ms, 2)
    ratio = float(np.median([p["float_over_int8"] for p in pair_rows])) if pair_rows else None
    targets = []
    for m in models:
        if m["role"] == "given" and m["precision"] != "float32":
            ms = m["ms"]["median"]
            targets.append(["int8 model alone <= 6 ms", m["label"], f"{ms:.2f} ms", ms <= TARGET_MODEL_MS])
            sp = m["speedup_vs_baseline"]
            targets.append([">= 100x faster than the paper-faithful U-Net", m["label"], f"{sp:.1f}x", sp >= 100])
    for f in frames:
        if f["mode"] == "detect":
            continue
        mode, ms = MODES[f["mode"]], f["stages"]["total"]["median"]
        targets.append([f"whole frame <= 10 ms ({mode})", f["model"], f"{ms:.2f} ms", ms <= TARGET_FRAME_MS])
        for clock, st in (("wall", f["stages"]), ("CPU", f["cpu_stages"])):
            around, model_ms, total = st["around_model"]["median"], st["inference"]["median"], st["total"]
            what = f"whole frame <= model + {TARGET_AROUND_MS:g} ms ({mode}, {clock})"
            targets.append([what, f["model"], f"{model_ms:.2f} + {around:.2f} ms", around <= TARGET_AROUND_MS])
            tail = total["p95"] / total["median"]
            what = f"live p95 <= {TARGET_TAIL:g}x p50 ({mode}, {clock})"
            targets.append([what, f["model"], f"{tail:.2f}x", tail <= TARGET_TAIL])
    flags = machine["isa_flags"]
    return {
        "machine": machine,
        "settings": {
            "repeats": args.repeats,
            "warmup": args.warmup,
            "threads": 1,
            "opencv_threads": cv2.getNumThreads(),
            "quick": args.quick,
            "frame": f"{SCREEN[1]}x{SCREEN[0]} BGR phantom capture, B-mode area {true_roi}",
            "roi_seen": rois,
            "timing": "Engine.run_raw (quantize input, invoke, read output); round robin over models",
        },
        "baseline_ms": base_ms,
        "paper_reported_ms_per_image": round(PAPER_MS_PER_IMAGE, 1),
        "models": models,
        "whole_frame": frames,
        "int8_vs_float32": {"pairs": pair_rows, "why": why_int8(flags, ratio)},
        "targets": [{"target": t, "model": m, "value": v, "met": bool(ok)} for t, m, v, ok in targets],
        "profile": profiles,
        "note": args.note,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def format_report(r: dict) -> str:
    m, s = r["machine"], r["settings"]
    load0, load1 = m["load_average_1min_at_start"], m["load_average_1min_at_end"]
    loaded = load0 is not None and load0 > 0.5 * (m["cores"] or 1)
    lines = [
        f"machine: {m['cpu']} ({m['cores']} cores, {m['machine']}), ISA {', '.join(m['isa_flags']) or '?'}, "
        f"Python {m['python']}, {', '.join(f'{k} {v}' for k, v in m['packages'].items())}",
        f"load average (1 min): {load0} at start, {load1} at end"
        + (" -- LOADED machine: other work ran at the same time; compare ratios, not absolute ms" if loaded else ""),
        f"niceness {m['niceness']}; LiteRT 1 thread, XNNPACK; OpenCV {s.get('opencv_threads', 'all')} thread(s); "
        f"{s['repeats']} repeats, {s['warmup']} warm-up, round robin"
        + (" (QUICK run: too few repeats for stable numbers)" if s["quick"] else ""),
        "",
        "### 1. Model alone (Engine.run_raw: quantize input, invoke, read output)",
        "",
        "| model | precision | input | output | size | median ms | p10-p90 ms | x vs baseline | x vs paper 494 ms |",
        "|---|---|---|---|---|---:|---:|---:|---:|",
    ]
    for x in r["models"]:
        t = x["ms"]
        lines.append(
            f"| {x['label']}{' (' + x['note'] + ')' if x['note'] else ''} | {x['precision']} | "
            f"{x['input'][0]}x{x['input'][1]} | {x['output'][0]}x{x['output'][1]} | {_mb(x['size_bytes'])} | "
            f"{t['median']:.2f} | {t['p10']:.1f}-{t['p90']:.1f} | {x['speedup_vs_baseline']:.1f} | "
            f"{x['speedup_vs_paper_reported']:.1f} |"
        )
    lines += [
        "",
        f"### 2. Whole frame ({s['frame']}; LiteRT 1 thread, OpenCV {s.get('opencv_threads', 'all')}), "
        "median ms per stage",
        "",
        "Wall: as the live loop sees it. CPU: this thread's CPU time for the same frames (LiteRT and OpenCV run on "
        "it), the frame's own work without the waits a loaded machine adds.",
        "",
        f"| model | mode | clock | {' | '.join(STAGES)} | total (p10-p90) | p95 | total - inference |",
        "|---|---|---|" + "---:|" * (len(STAGES) + 3),
    ]
    for f in r["whole_frame"]:
        for clock, st in (("wall", f["stages"]), ("CPU", f.get("cpu_stages"))):
            if st is None:
                continue
            tot = st["total"]
            cells = " | ".join(f"{st[k]['median']:.2f}" for k in STAGES)
            lines.append(
                f"| {f['model']} | {MODES[f['mode']]} | {clock} | {cells} | "
                f"**{tot['median']:.2f}** ({tot['p10']:.1f}-{tot['p90']:.1f}) | {tot['p95']:.2f} | "
                f"{st['around_model']['median']:.2f} |"
            )
    lines.append("")
    lines.append(f"ROI per mode: {', '.join(f'{MODES[k]}: {v}' for k, v in s['roi_seen'].items())}")
    lines.append("(the layout check re-detects every 50 frames: add the detection's time / 50 for its average)")
    lines += ["", "### 3. int8 vs float32, same architecture, same run", ""]
    if r["int8_vs_float32"]["pairs"]:
        lines += ["| int8 | float32 | int8 ms | float32 ms | float32 / int8 |", "|---|---|---:|---:|---:|"]
        for p in r["int8_vs_float32"]["pairs"]:
            lines.append(
                f"| {p['int8']} | {p['float32']} | {p['int8_ms']:.2f} | {p['float32_ms']:.2f} | "
                f"{p['float_over_int8']:.2f} |"
            )
        lines.append("")
    lines.append(r["int8_vs_float32"]["why"])
    lines += ["", "### Targets (issues 5 and 28, speed side)", ""]
    lines += ["| target | model | value | met |", "|---|---|---:|---|"]
    for t in r["targets"]:
        lines.append(f"| {t['target']} | {t['model']} | {t['value']} | {'met' if t['met'] else 'NOT met'} |")
    if r["profile"]:
        model = next(f["model"] for f in r["whole_frame"])
        lines += ["", f"### 4. Where the time goes around the model ({model}, live frame, fixed ROI)", ""]
        lines.append(
            "Per stage its median ms (unprofiled), wall and CPU; each row a function of this project with the library "
            "calls it makes (OpenCV, numpy; the largest named with its share of the row), its share of the stage's "
            "CPU time from a cProfile run of the same frames (timed in CPU time)."
        )
        for scene in r["profile"]:
            stages = {k: StageProfile.of(v) for k, v in scene["stages"].items()}
            lines += ["", *profile_table(scene["scene"], stages)]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", type=Path, help="models to time (default: the bundled and run models)")
    p.add_argument("--repeats", type=int, default=30, help="timed rounds per model and mode (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 repeats, 1 warm-up, 2 phantom frames")
    p.add_argument("--baseline-filters", type=int, default=PAPER_FILTERS, help="64 = paper; smaller for tests")
    p.add_argument("--no-twins", action="store_true", help="no untrained float32 twins of unpaired int8 models")
    p.add_argument("--cache", type=Path, default=CACHE, help=f"built float32 models (default {CACHE})")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="where models.md and raw/models.jsonl go")
    p.add_argument(
        "--opencv-threads", type=int, default=1, help="OpenCV's threads (default 1, the target's; 0 = its default)"
    )
    p.add_argument("--data", type=Path, default=DL_TRACK_APO, help="the shared set, for section 4's image sizes")
    p.add_argument("--no-profile", action="store_true", help="leave out section 4 (where the time goes)")
    p.add_argument("--note", default="", help="a line to keep with the result (e.g. what else was running)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = min(args.repeats, 3), min(args.warmup, 1)
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    previous = cv2.getNumThreads()
    cv2.setNumThreads(args.opencv_threads if args.opencv_threads > 0 else -1)  # -1: OpenCV's default
    try:
        return run(args)
    finally:
        cv2.setNumThreads(previous)


def run(args: argparse.Namespace) -> int:
    """Time, summarise, print and keep (OpenCV's threads already set)."""

    def progress(text: str) -> None:
        print(text, flush=True)

    machine = machine_info()
    machine["niceness"] = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else None
    models = args.models or default_models()
    if not models:
        raise SystemExit("no models given and none found under edge/models/ or runs/")
    progress(f"load average {machine['load_average_1min_at_start']} at start; loading {len(models)} model(s) ...")
    entries, pairs = collect(models, args.baseline_filters, not args.no_twins, args.cache, progress)
    frames, true_roi = phantom_frames(2 if args.quick else 6)

    progress(f"model alone: {len(entries)} models x {args.repeats} rounds (the baseline dominates the time) ...")
    model_samples = time_models(entries, frames[0], args.repeats, args.warmup, progress)
    int8 = [e for e in entries if e.role == "given" and e.precision != "float32"]
    progress(f"whole frame: {len(int8)} int8 model(s) x {len(MODES)} modes x {args.repeats} rounds ...")
    frame_samples, rois = time_frames(int8, frames, true_roi, args.repeats, args.warmup, progress)
    profiles = []
    if int8 and not args.no_profile:
        progress(f"where the time goes: {int8[0].label}, per stage and function ...")
        profiles = profile_scenes(int8[0].engine, frames, true_roi, args.repeats, args.data, progress)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    machine["load_average_1min_at_end"] = round(load, 2) if load is not None else None
    result = summarise(entries, pairs, model_samples, frame_samples, rois, true_roi, args, machine, profiles)
    report = format_report(result)
    print(report)
    face, log = keep_run(result, "models", HEAD, report, out_dir=args.out_dir)
    progress(f"wrote {face}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
