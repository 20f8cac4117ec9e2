"""The shipped model's card (MODEL_CARD.md) and metadata (model.json), written from a finished run directory."""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from edge.core.engine import Engine
from edge.core.labels import CLASS_NAMES, IGNORE
from edge.measurement.metrics import PAPER_SCORES
from quantization.config import TrainConfig
from quantization.data import load_samples
from quantization.edgetpu import check
from quantization.evaluation_report import identity_table, layout_table, markdown_table
from quantization.recipe import recipe_phrases, reproduce_command
from quantization.runs import SHIPPED, model_paths

DATA_CITATION = (
    "Cronin N. J., Finni T., Seynnes O. (2020). Fully automated analysis of muscle architecture from B-mode "
    "ultrasound images with deep learning. arXiv:2009.04790 (DL_Track; images and masks: Apache License 2.0)"
)
METHOD_CITATION = (
    "Bonaldi et al. (2025). Deep-learning segmentation of the thoracolumbar fascia in ultrasound images. "
    "BMC Medical Imaging 25:164"
)
NORMALISATION = (
    "grey (BGR/RGB/RGBA -> grey) -> crop of the B-mode area (edge.core.roi.detect_bmode_roi, or a fixed box) -> "
    "resize to the input size (area when shrinking) -> x / 255 in [0, 1] -> int8 q = round(x / scale) + zero_point"
)


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _history(path: Path) -> tuple[int, int | None]:
    """Epochs run and the epoch with the lowest validation loss (the one kept)."""
    rows = list(csv.DictReader(path.open())) if path.is_file() else []
    if not rows:
        return 0, None
    key = "val_loss" if "val_loss" in rows[0] else "loss"
    best = min(rows, key=lambda r: float(r[key]))
    return len(rows), int(best["epoch"])


def _git_commit() -> str | None:
    command = ["git", "describe", "--always", "--dirty", "--abbrev=40"]
    try:
        out = subprocess.run(command, cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


#: a run's own account of how it compares with the model it replaces (layout hold-outs, wrong-structure frames, the
#: stress suite): measured outside the run, so written beside it by whoever ships it, and quoted in the card
REPLACES = "replaces.md"


def collect(run_dir: str | Path) -> dict:
    """Everything the card and model.json say, read from the run directory."""
    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    qat = _json(run_dir / "qat.json")
    split = _json(run_dir / "split.json")
    evaluation = _json(run_dir / "evaluation.json")
    left_out = sorted({p.split(":", 1)[0] for p in load_samples(cfg.data, cfg.label_check)[1] if ": left out:" in p})
    engine = Engine(model_paths(run_dir)["qat_int8"])
    float_epochs, float_best = _history(run_dir / "float.history.csv")
    qat_epochs, qat_best = _history(run_dir / "qat.history.csv")
    return {
        "run_dir": run_dir,
        "replaces": (run_dir / REPLACES).read_text().strip() if (run_dir / REPLACES).is_file() else None,
        "cfg": cfg,
        "qat": qat,
        "split": split,
        "left_out": left_out,
        "evaluation": evaluation,
        "engine": engine,
        "float_epochs": (float_epochs, float_best),
        "qat_epochs": (qat_epochs, qat_best),
        "edgetpu": check(engine.model_path),
        "command": reproduce_command(run_dir, cfg, qat),
        "commit": _git_commit(),
    }


def output_meaning(engine) -> str:
    if engine.outputs_logits:
        return "class logits (the runtime applies the softmax: the whole graph runs in XNNPACK and on the Edge TPU)"
    return "softmax probabilities per class"


def architecture(cfg) -> str:
    """One line on the network, from the run's config."""
    text = (
        "2D U-Net (4 poolings, two 3x3 convolutions a level, UpSampling2D + Conv2D decoder, softmax over 3 classes), "
        f"base width {cfg.base_filters} (the paper: 64)"
    )
    if cfg.stem > 1:
        from quantization.unet import stem_kernel

        k = stem_kernel(cfg.stem)
        text += (
            f", behind a stride-{cfg.stem} {k}x{k} convolution stem: it predicts at 1/{cfg.stem} of the input's "
            "resolution and the runtime upsamples the probabilities bilinearly into the native frame"
        )
    return text


def _tensor(spec) -> dict:
    return {"shape": list(spec.shape), "dtype": spec.dtype.name, "scale": spec.scale, "zero_point": spec.zero_point}


#: the thickness errors against the expert's labels (px): per column, per image, per image the runtime marks good
THICKNESS_ERRORS = ("thickness_error_px", "frame_thickness_error_px", "good_frame_thickness_error_px")


def write_model_json(info: dict, out: str | Path) -> Path:
    """model.json from `collect`'s information."""
    cfg, engine, evaluation = info["cfg"], info["engine"], info["evaluation"]
    meta = {
        "model": SHIPPED["qat_int8"],
        "float32_twin": SHIPPED["float32"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {**_tensor(engine.input), "normalisation": NORMALISATION},
        "output": {**_tensor(engine.output), "meaning": output_meaning(engine)},
        "classes": dict(enumerate(CLASS_NAMES)),
        "ignore_label": IGNORE,
        "architecture": architecture(cfg),
        "training": {
            "config": json.loads((info["run_dir"] / "config.json").read_text()),
            "float_epochs_run": info["float_epochs"][0],
            "float_best_epoch": info["float_epochs"][1],
            "qat": info["qat"],
            "qat_best_epoch": info["qat_epochs"][1],
        },
        "split": {"seed": cfg.seed, "sizes": {k: len(v) for k, v in info["split"].items()}, "names": info["split"]},
        "label_check_left_out": info["left_out"],
        "evaluation": {
            "split": evaluation.get("split"),
            "images": evaluation.get("images"),
            "machine": evaluation.get("machine"),
            "models": {
                name: {
                    "native_micro": m["native"]["micro"],
                    "native_per_image_mean": m["native"]["per_image_mean"],
                    "agreement_with_float": m["agreement_with_float"],
                    "latency_ms_p50": m["latency_ms"],
                    "size_bytes": m["size_bytes"],
                    **{k: m.get(k) for k in THICKNESS_ERRORS},  # the clinic report's caveat reads these
                }
                for name, m in evaluation.get("models", {}).items()
            },
        },
        "edgetpu_ready": info["edgetpu"].ready,
        "data": DATA_CITATION,
        "method": METHOD_CITATION,
        "reproduce": info["command"],
        "code_commit": info["commit"],
    }
    out = Path(out)
    out.write_text(json.dumps(meta, indent=1))
    return out


def split_origin(cfg) -> str:
    """How the run's split was made, in words."""
    if cfg.split:
        return f"The split of the model this one replaces (`--split {cfg.split}`), less the images left out above"
    return f"Deterministic by seed {cfg.seed} (fractions {cfg.fractions[0]:g} / {cfg.fractions[1]:g} / rest)"


def card(info: dict) -> str:
    cfg, engine, ev = info["cfg"], info["engine"], info["evaluation"]
    sizes = {k: len(v) for k, v in info["split"].items()}
    (f_run, f_best), (q_run, q_best) = info["float_epochs"], info["qat_epochs"]
    h, w = engine.input_size
    tpu = info["edgetpu"]
    qat = info["qat"]
    return "\n".join(
        [
            "# tlfseg U-Net, int8: model card",
            "",
            f"`{SHIPPED['qat_int8']}` labels every pixel of a B-mode ultrasound frame as 0 = tissue above the "
            "fascia, 1 = fascia, 2 = tissue below, the scheme of Bonaldi et al. (2025). It is the "
            f"quantization-aware-trained, full-integer int8 model; `{SHIPPED['float32']}` is its float32 "
            "twin for reference. A research prototype, not a medical device.",
            "",
            "## Model",
            "",
            f"- {architecture(cfg)}.",
            f"- Input: {h}x{w}x1 int8 (scale {engine.input.scale:.6g}, zero point {engine.input.zero_point}). "
            f"Preprocessing: {NORMALISATION}.",
            f"- Output: {engine.output_size[0]}x{engine.output_size[1]}x3 int8 {output_meaning(engine)} "
            f"(scale {engine.output.scale:.6g}, zero point "
            f"{engine.output.zero_point}); edge.core.postprocess maps them back into the native frame.",
            "- Beside it: input_reference.json, the range of its training images' input statistics; the runtime "
            "flags a frame outside it `unfamiliar` (edge.core.familiarity).",
            "",
            "## Data and licence",
            "",
            "No public thoracolumbar-fascia set exists. The model is trained on the DL_Track aponeurosis set "
            "(395 real lower-limb B-mode screen captures from 3 scanner layouts, binary masks of the aponeuroses): "
            "the superficial aponeurosis is the same kind of bright layered band between tissue above and muscle "
            "below. Per image column: rows above the first labelled pixel = 0, the contiguous labelled run = 1, "
            "everything below = 2; columns without a label are ignored in the loss and the metrics.",
            *(
                [
                    "",
                    f"The label check (edge/core/label_check.py) left out {len(info['left_out'])} masks that do not "
                    "sit on their image (and repeated images): neither trained nor scored on; model.json lists them.",
                ]
                if info["left_out"]
                else []
            ),
            "",
            f"- Data: {DATA_CITATION}. The images are not part of this package.",
            f"- Method and class scheme: {METHOD_CITATION}.",
            "",
            "## Split",
            "",
            f"{split_origin(cfg)}: {sizes.get('train', 0)} train, {sizes.get('val', 0)} validation (early stopping, "
            f"best epoch), {sizes.get('test', 0)} test. The file lists are in model.json.",
            "",
            "## Recipe",
            "",
            "- Float training: categorical cross-entropy over labelled pixels"
            + (
                f" (targets: each output pixel's class fractions over its {cfg.stem}x{cfg.stem} input pixels)"
                if cfg.stem > 1
                else ""
            )
            + "; "
            + "; ".join(recipe_phrases(cfg))
            + f". Ran {f_run} epochs; kept epoch {f_best}.",
            f"- Quantization-aware training: tfmot `quantize_model` on the float model, {qat.get('epochs')} epochs "
            f"at learning rate {qat.get('learning_rate', 0):g}; kept epoch {q_best} of {q_run}.",
            "- Conversion: full-integer int8 (int8 input and output), representative data from the train split; "
            "post-training int8 of the float model converted the same way for comparison.",
            "",
            *(["## Against the model it replaces", "", info["replaces"], ""] if info.get("replaces") else []),
            f"## Evaluation: {ev.get('images')} {ev.get('split')} images the model never trained on",
            "",
            "Through the on-device path (ROI detection, preprocessing, LiteRT, postprocessing into the native "
            "frame), scored against the native 3-class labels. Micro scores pool all labelled pixels of the set.",
            "",
            markdown_table(ev),
            "",
            "Per scanner layout:",
            "",
            layout_table(ev),
            "",
            "Wrong-structure frames (the prediction marks another structure than the labelled band: the image's fascia "
            "Dice under 0.3, or the band's centre further off than the band is thick), how many of them the runtime "
            "reported as good measurements, and the right frames it flagged:",
            "",
            identity_table(ev),
            "",
            "The paper's figures (accuracy {accuracy}, mean IoU {mean_iou}, Dice {dice}) are for its own ".format(
                **PAPER_SCORES
            )
            + "thoracolumbar-fascia images and float model, so they frame the scale, they are not a like-for-like "
            "comparison.",
            "",
            "## Latency and size",
            "",
            f"Median inference per image, 1 thread, on {ev.get('machine')}: "
            + ", ".join(f"{n} {m['latency_ms'].get('inference', float('nan')):.1f} ms" for n, m in ev["models"].items())
            + "; whole per-frame pipeline (preprocess + inference + postprocess): "
            + ", ".join(f"{n} {m['latency_ms'].get('total', float('nan')):.1f} ms" for n, m in ev["models"].items())
            + ". The paper: 43 s for 87 images (494 ms an image). Sizes: "
            + ", ".join(f"{n} {m['size_bytes'] / 1e6:.2f} MB" for n, m in ev["models"].items())
            + ".",
            "",
            "## Edge TPU",
            "",
            f"`tlfseg edgetpu-check`: {'ready' if tpu.ready else 'NOT ready'} for `edgetpu_compiler`, "
            f"{tpu.mapped} of {len(tpu.ops)} ops map to the Edge TPU"
            + (f"; {'; '.join(tpu.warnings)}" if tpu.warnings else "")
            + ".",
            "",
            "## Reproduce",
            "",
            "```",
            info["command"],
            "```",
            "",
            "From the project root, with the train extra and `../shared/data/dl_track_apo` present, in a "
            "checkout without the run directories it names (an existing one is resumed, not retrained)"
            + (f", at commit `{info['commit']}`" if info["commit"] else "")
            + ". TensorFlow training on a CPU is not bit-for-bit deterministic: a rerun gives close, not identical, "
            "numbers.",
            "",
        ]
    )


def write_model_card(info: dict, out: str | Path) -> Path:
    """MODEL_CARD.md from `collect`'s information."""
    out = Path(out)
    out.write_text(card(info))
    return out
