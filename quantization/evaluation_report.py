"""The evaluation's report: evaluation.md, its tables (also quoted by the model card) and the names of its figures."""

from __future__ import annotations

import math

from edge.core.latency import PAPER_MS_PER_IMAGE
from quantization.runs import int8_model


def _f(v: float | None, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def markdown_table(result: dict, resolution: str = "native") -> str:
    """Float vs PTQ vs QAT: the paper's metrics (micro over all pixels), per-image means; at native resolution
    also the agreement with float, latency and size."""
    native = resolution == "native"
    head = "| model | accuracy | mean IoU | mean Dice | fascia IoU | fascia Dice | per-image mean IoU |"
    if native:
        head += (
            " thickness error p50 / p90 (px), columns | thickness error p50 / p90 (px), images |"
            " images the runtime marks good: thickness error p50 / p90 (px) |"
            " agreement with float | inference p50 (ms) | size (MB) |"
        )
    rows = [head, "|---" * head.count(" | ") + "|---|"]
    for name, m in result["models"].items():
        micro, per = m[resolution]["micro"], m[resolution]["per_image_mean"]
        row = (
            f"| {name} | {_f(micro['accuracy'])} | {_f(micro['mean_iou'])} | {_f(micro['mean_dice'])} | "
            f"{_f(micro['iou']['fascia'])} | {_f(micro['dice']['fascia'])} | {_f(per['mean_iou'])} |"
        )
        if native:
            err, frame = m.get("thickness_error_px") or {}, m.get("frame_thickness_error_px") or {}
            good, images = m.get("good_frame_thickness_error_px"), m[resolution]["images"]
            marked = "-"  # an evaluation written before the runtime's flags were recorded
            if good is not None:
                marked = f"{_f(good['median'], 1)} / {_f(good['p90'], 1)} ({images - len(m['flagged'])} of {images})"
            row += (
                f" {_f(err.get('median'), 1)} / {_f(err.get('p90'), 1)} |"
                f" {_f(frame.get('median'), 1)} / {_f(frame.get('p90'), 1)} | {marked} |"
                f" {_f(m['agreement_with_float'], 4)} | {_f(m['latency_ms'].get('inference'), 1)} | "
                f"{m['size_bytes'] / 1e6:.2f} |"
            )
        rows.append(row)
    paper = result["paper"]
    row = (
        f"| paper (float Keras, TLF data) | {paper['accuracy']:.2f} | {paper['mean_iou']:.2f} | "
        f"{paper['dice']:.2f} | - | - | - |"
    )
    rows.append(row + (f" - | - | - | - | {PAPER_MS_PER_IMAGE:.0f} (whole prediction) | - |" if native else ""))
    return "\n".join(rows)


def layout_table(result: dict) -> str:
    rows = ["| layout | images | " + " | ".join(f"{n} mean IoU | {n} fascia Dice" for n in result["models"]) + " |"]
    rows.append("|---|---|" + "---|---|" * len(result["models"]))
    for key, n in result["layouts"].items():
        cells = []
        for m in result["models"].values():
            micro = m["layouts"][key]["micro"]
            cells += [_f(micro["mean_iou"]), _f(micro["dice"]["fascia"])]
        rows.append(f"| {key} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def identity_table(result: dict) -> str:
    """Per model and layout: wrong-structure frames, those reported good, right frames flagged, band depth error."""
    head = (
        "| model | layout | frames | wrong structure | wrong, reported good | right, flagged |"
        " band centre depth error p50 / p90 (px) |"
    )
    rows = [head, "|---|---|---|---|---|---|---|"]
    for name, m in result["models"].items():
        if "band_identity" not in m:  # an evaluation written before band identity was recorded
            continue
        for key, b in [("all", m["band_identity"]), *m["layout_band_identity"].items()]:
            depth = b["depth_error_px"]
            rows.append(
                f"| {name} | {key} | {b['frames']} | {b['wrong']} ({_pct(b['wrong_share'])}) | "
                f"{b['wrong_good']} ({_pct(b['wrong_good_share'])}) | {b['right_flagged']} "
                f"({_pct(b['right_flagged_share'])} of right) | {_f(depth['median'], 1)} / {_f(depth['p90'], 1)} |"
            )
    return "\n".join(rows)


def risk_coverage_table(result: dict) -> str:
    """The int8 model's flags as refusal rules: coverage (frames still reported) against risk (wrong among them)."""
    name = int8_model(result["models"]) or next(iter(result["models"]))
    b = result["models"][name].get("band_identity")
    if b is None:
        return ""
    rows = [f"| {name}: frames refused when | coverage | risk (wrong structure among those reported) |"]
    rows.append("|---|---|---|")
    rows += [f"| {r['rule']} | {_pct(r['coverage'])} | {_pct(r['risk'])} |" for r in b["risk_coverage"]]
    return "\n".join(rows)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def worst_table(result: dict) -> str:
    """Per model: the spread of the images' own fascia Dice and the images where it is lowest."""
    rows = ["| model | fascia Dice per image: p10 / median / mean | lowest (image: Dice, the runtime's flags) |"]
    rows.append("|---|---|---|")
    for name, m in result["models"].items():
        spread = m["native"].get("fascia_dice_per_image")
        if spread is None:  # an evaluation written before the spread was recorded
            continue
        mean = m["native"]["per_image_mean"]["fascia_dice"]
        flagged = m.get("flagged", {})
        worst = ", ".join(
            f"{n}: {d:.2f}" + (f" ({', '.join(flagged[n])})" if n in flagged else "") for n, d in spread["worst"]
        )
        rows.append(f"| {name} | {_f(spread['p10'])} / {_f(spread['median'])} / {_f(mean)} | {worst} |")
    return "\n".join(rows)


#: what each split was used for, as the evaluation report states it
SPLIT_ROLE = {
    "test": "never used for training or model selection",
    "val": "used to pick the best epoch, not for training",
    "train": "the images the model trained on",
}


def markdown(result: dict) -> str:
    lat = next(iter(result["models"].values()))
    parts = [
        f"# Evaluation: {result['run']}",
        "",
        f"{result['images']} images of the **{result['split']}** split ({SPLIT_ROLE[result['split']]}), "
        "run through the on-device path (`edge.live.pipeline.FramePipeline`: ROI detection, preprocessing, "
        f"LiteRT `Engine` ({lat['backend']}, 1 thread) on {result['machine']}, probabilities upsampled into the "
        "native frame). "
        "Scores are over labelled pixels (columns without a labelled band are ignored); *micro* pools all "
        "pixels of the set, *per-image* averages the images' own scores. Agreement: fraction of native pixels "
        "where the int8 class equals the float32 model's. Thickness error: per annotated column, |predicted - "
        "annotated| vertical fascia run; per image, |reported - annotated| thickness, as the runtime reports it "
        "(`edge.measurement.measure`: median perpendicular thickness over the annotated columns).",
        "",
        "## Native resolution",
        "",
        markdown_table(result, "native"),
        "",
        "## Model resolution (input crop resized to the model's input)",
        "",
        markdown_table(result, "model_resolution"),
        "",
        "## Per scanner layout (native, micro)",
        "",
        layout_table(result),
        "",
        "Latency is the median LiteRT inference time per image on this machine, 1 thread; the paper's figure is "
        "its whole prediction time (43 s for 87 images).",
        "",
        f"![image / annotation / predictions]({figure_name(result['split'])})",
        "",
        "## Is it the right band?",
        "",
        "A *wrong-structure* frame: the image's own fascia Dice below 0.3, or the predicted band's median centre row "
        "(over the annotated columns) further from the annotated band's than that band is thick, or no band there. "
        "*Reported good*: the runtime raised no flag, so a clinic would read its thickness. *Right, flagged*: a right "
        "frame the runtime refused (lost coverage).",
        "",
        identity_table(result),
        "",
        risk_coverage_table(result),
        "",
        "## Where the fascia Dice is lost",
        "",
        "The set's fascia Dice pools every pixel; per image it spreads out, and a few images pull the mean down. "
        "The figure shows the lowest ones, cut to the band's rows.",
        "",
        worst_table(result),
        "",
        f"![the images with the lowest fascia Dice]({figure_name(result['split'], 'worst')})",
        "",
    ]
    if result["problems"]:
        parts += ["## Skipped", "", *(f"- {p}" for p in result["problems"]), ""]
    return "\n".join(parts)


def figure_name(split: str, stem: str = "figure4") -> str:
    return f"{stem}.png" if split == "test" else f"{stem}_{split}.png"
