"""The pictures of benchmarks/real_video.py: one per table (gliding error per condition; `jump`s on smooth motion and
a slide onto another capture; thickness with and without fusion)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PAIRS = ("fascia/below", "above/fascia")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: the smooth clips' settings (benchmarks/real_video.py): the picture's name and colour for each
SMOOTH_SETTINGS = {"off": ("plain", "C0"), "fuse": ("fusion", "C2"), "no_track": ("no track", "C7")}


def figures(result: dict, base: Path) -> dict[str, str]:
    """Writes the pictures the result has sections for, each beside `base` (`results_log.picture_path`'s
    ``img/real_video_<time>.png``) as ``real_video_<time>_<table name>.png``; {table name: file name}."""

    def path(name: str) -> Path:
        return base.with_name(f"{base.stem}_{name}.png")

    names = {}
    if "gliding" in result:
        names["gliding"] = _save(gliding_figure(result["gliding"]), path("gliding"))
    if "smooth" in result:
        names["smooth"] = _save(smooth_figure(result["smooth"]["levels"]), path("smooth"))
    if result.get("slides"):
        names["slides"] = _save(slide_figure(result["slides"]), path("slides"))
    return names


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    _plt().close(fig)
    return path.name


def gliding_figure(g: dict):
    """Signed cumulative shear error per clip and condition, strips from the model (filled) and the labels
    (hollow); the phantom's error at the same speeds; +-10 % shaded."""
    plt = _plt()
    rows = g["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    x = np.arange(len(rows))
    for ax, pair in zip(axes, PAIRS, strict=True):
        ax.axhspan(-10, 10, color="0.9")
        ax.axhline(0, color="0.5", lw=0.8)
        for dx, source, style in (
            (-0.15, "model", {"color": "C0"}),
            (0.15, "labels", {"facecolors": "none", "edgecolors": "C1"}),
        ):
            for i, row in enumerate(rows):
                errs = [c[source]["error_pct"][pair] for c in row["clips"] if c[source]["error_pct"][pair] is not None]
                ax.scatter(np.full(len(errs), i + dx), np.clip(errs, -100, 100), s=18, **style,
                           label=f"strips from the {source}" if i == 0 else None)  # fmt: skip
                if errs:
                    ax.plot([i + dx - 0.12, i + dx + 0.12], [np.median(errs)] * 2, color="k", lw=2)
        speeds = list(g["phantom"])
        ax.scatter(range(len(speeds)), [g["phantom"][s]["error_pct"][pair] for s in speeds], marker="*", s=90,
                   color="C3", label="phantom", zorder=3)  # fmt: skip
        ax.set_xticks(x, [r["label"] for r in rows], rotation=60, ha="right", fontsize=8)
        ax.set_title(f"cumulative shear {pair}: error against the truth (%, clipped at 100)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("error (%)")
    axes[0].legend(fontsize=8)
    return fig


def smooth_figure(smooth: dict):
    """Smooth motion: frames refused per 1,000 (and how many of them `jump`); the least steady clip's thickness
    without and with fusion against the truth; the frame-to-frame change over all clips."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.2, 2, 1.2]})
    labels, colours, refused, jumps, frames, steps = [], [], [], [], [], []
    for level, runs in smooth.items():
        for setting, rs in runs.items():
            name, colour = SMOOTH_SETTINGS[setting]
            labels.append(f"{level}\n{name}")
            colours.append(colour)
            refused.append(sum(r["frames"] - r["good"] for r in rs))
            jumps.append(sum(r["flags"].get("jump", 0) for r in rs))
            frames.append(sum(r["frames"] for r in rs))
            steps.append(np.concatenate([r["steps_px"] for r in rs] + [[]]))
    rates = [1000 * k / max(n, 1) for k, n in zip(refused, frames, strict=True)]
    bars = axes[0].bar(labels, rates, color=colours)
    axes[0].bar_label(bars, [f"{j} jump" for j in jumps], fontsize=8)
    axes[0].set_ylim(0, max(1.0, 1.3 * max(rates)))
    axes[0].set_ylabel("frames refused per 1,000")
    axes[0].set_title("frames refused (of them `jump`)")
    axes[0].tick_params(axis="x", labelsize=8, labelrotation=35)
    slow = smooth["slow"]
    clip = max(range(len(slow["off"])), key=lambda k: np.nanstd(_values(slow["off"][k]["thickness_px"])))
    ax = axes[1]
    ax.plot(slow["off"][clip]["true_px"], color="0.5", label="truth")
    for setting, colour in (("off", "C0"), ("fuse", "C2")):
        ax.plot(_values(slow[setting][clip]["thickness_px"]), color=colour, marker=".",
                label="no fusion" if setting == "off" else "fusion")  # fmt: skip
    ax.set_title(f"thickness, slow probe, {slow['off'][clip]['capture']} (the least steady clip without fusion)")
    ax.set_xlabel("frame")
    ax.set_ylabel("thickness (px; gaps: flagged)")
    ax.legend(fontsize=8)
    axes[2].boxplot(steps, tick_labels=labels, showfliers=False)
    axes[2].set_ylabel("|thickness change| frame to frame (px)")
    axes[2].set_title("steadiness")
    axes[2].tick_params(axis="x", labelsize=8, labelrotation=35)
    fig.tight_layout()
    return fig


def _values(series: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in series], float)


def slide_figure(switches: list[dict]):
    """The first slide onto another capture and back, without and with fusion: the measured band depth (good,
    `jump`, other flags) against the true depth of the capture in view."""
    plt = _plt()
    runs = [s for s in switches if s["a"] == switches[0]["a"]]
    fig, axes = plt.subplots(len(runs) or 1, 1, figsize=(12, 3.6 * max(len(runs), 1)), squeeze=False)
    for ax, s in zip(axes[:, 0], runs, strict=False):
        depth, good, jump = _values(s["depth_px"]), np.array(s["good"]), np.array(s["jump"])
        i = np.arange(depth.size)
        ax.plot(i, s["true_depth_px"], color="0.6", lw=1, label="true band depth (the capture in view)")
        ax.scatter(i[good], depth[good], s=10, color="C2", label="measured, good")
        ax.scatter(i[jump], depth[jump], s=22, marker="x", color="C3", label="flagged jump")
        other = ~good & ~jump
        ax.scatter(i[other], depth[other], s=10, color="0.3", label="other flags")
        ax.invert_yaxis()
        ax.set_ylabel("band centre row (ROI px)")
        events = "; ".join(f"onto {e['onto']}: jump {'flagged' if e['caught'] else 'missed'}, followed "
                           f"{e['follow']} frames after the slide began" for e in s["events"])  # fmt: skip
        fusion = "no fusion" if s["setting"] == "off" else "fusion"
        ax.set_title(f"{fusion}: the probe slides {s['a']} -> {s['b']} -> back\n{events}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel("frame")
    return fig
