"""How the runtime's band-identity rules do on scanner layouts a model never saw: the layout hold-outs
(`tlfseg holdouts`), each run's int8 model on every image of the layout it was trained without.

    python benchmarks/band_rules.py --runs runs/w8c_base [--note TEXT]

For each rule set (the runtime before the winning piece was measured, then each rule added in turn) and each run:
wrong-structure frames, those reported good, right frames refused, frames measured in part (`partial`) and how many
of those were the wrong structure, and the thickness error (|reported - labelled| median thickness, native px) of
the frames reported whole and of those measured in part. The rules' thresholds were set before these runs were
scored (the issue's evidence: a band in 60-90 % of the columns, a faint line in the rest), not tuned on them.
Writes results/band_rules.md (newest first).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from edge.core.roi import Box  # noqa: E402
from edge.live.pipeline import FramePipeline  # noqa: E402
from edge.measurement.flags import refuses  # noqa: E402
from edge.measurement.identity import IdentityTally, band_identity  # noqa: E402
from edge.measurement.measure import MeasureConfig, measure  # noqa: E402
from edge.measurement.metrics import SetMetrics  # noqa: E402
from quantization.data import read_image, read_labels  # noqa: E402
from quantization.run_data import split_samples  # noqa: E402

NOW = MeasureConfig()
#: rule sets, each adding one rule to the one before
RULES = {
    "refuse pieces (before)": replace(NOW, min_winner=1.1, max_split=0.0),
    "+ winning piece measured": replace(NOW, max_split=0.0),
    "+ split layers one band (the runtime)": NOW,
    "+ --second-line 0.9": replace(NOW, max_line_rival=0.9),
}
HEAD = (
    "# Band-identity rules on scanner layouts never trained on\n\n"
    "`python benchmarks/band_rules.py --runs RUN`: the layout hold-outs' int8 models, each on every image of the "
    "layout it never saw, under each rule set of the runtime (each adding one rule to the one above). Wrong: the "
    "model marks another structure than the labelled band; reported good: wrong and not refused; right refused: "
    "right frames the runtime refused (flagged); partial: reported good, measured on the band's winning piece (and "
    "how many of those were wrong); thickness error: |reported - labelled| median thickness in native pixels, "
    "median / p90, of the frames reported whole and of those measured in part.\n"
)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _errors(values: list[float]) -> str:
    if not values:
        return "-"
    med, p90 = np.percentile(values, [50, 90])
    return f"{med:.1f} / {p90:.1f} ({len(values)})"


def score(run: Path) -> dict[str, dict]:
    """Each rule set's tally and thickness errors on the run's held-out images."""
    samples, _ = split_samples(run, "test")
    pipeline = FramePipeline(run / "qat_int8.tflite", video=False, threads=1)
    frames = [(s.name, read_image(s.image), read_labels(s)) for s in samples]
    out = {}
    for rule, config in RULES.items():
        pipeline.measure_config = config
        tally, metrics, whole, partial = IdentityTally(), SetMetrics(), [], []
        for name, image, labels in frames:
            result = pipeline(image)
            dice = metrics.add(name, result.labels, labels)["dice"]["fascia"]
            tally.add(name, band_identity(result.labels, labels, dice), result.flags)
            m, truth = result.measurement, measure(labels, Box.full(labels.shape)).thickness_px
            if refuses(m.flags) or m.thickness_px is None or truth is None:
                continue
            (partial if "partial" in m.flags else whole).append(abs(m.thickness_px - truth))
        out[rule] = {"identity": tally.summary(), "whole_error": whole, "partial_error": partial}
    return out


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| run | rules | frames | wrong | wrong, reported good | right refused | partial (wrong) | thickness error, "
        "whole | thickness error, partial |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run, rules in results.items():
        for rule, r in rules.items():
            i = r["identity"]
            right = i["frames"] - i["wrong"]
            lines.append(
                f"| {run} | {rule} | {i['frames']} | {_pct(i['wrong'], i['frames'])} | "
                f"{_pct(i['wrong_good'], i['frames'])} | {_pct(i['right_flagged'], right)} | "
                f"{i['partial']} ({i['partial_wrong']}) | {_errors(r['whole_error'])} | {_errors(r['partial_error'])} |"
            )
    return "\n".join(lines)


def pooled(results: dict[str, dict[str, dict]]) -> str:
    """Per held-out layout, over its seeds: the shares the issue's targets name."""
    lines = [
        "| held out | rules | runs | right refused | wrong, reported good | partial (wrong) | thickness error whole "
        "/ partial, median |",
        "|---|---|---|---|---|---|---|",
    ]
    layouts = sorted({run.split("-seed")[0] for run in results})
    for layout in layouts:
        runs = [r for name, r in results.items() if name.startswith(layout + "-seed")]
        for rule in RULES:
            ids = [r[rule]["identity"] for r in runs]
            frames = sum(i["frames"] for i in ids)
            right = frames - sum(i["wrong"] for i in ids)
            whole = [e for r in runs for e in r[rule]["whole_error"]]
            part = [e for r in runs for e in r[rule]["partial_error"]]
            med = [f"{np.median(v):.2f}" if v else "-" for v in (whole, part)]
            lines.append(
                f"| {layout} | {rule} | {len(runs)} | {_pct(sum(i['right_flagged'] for i in ids), right)} | "
                f"{_pct(sum(i['wrong_good'] for i in ids), frames)} | {sum(i['partial'] for i in ids)} "
                f"({sum(i['partial_wrong'] for i in ids)}) | {med[0]} / {med[1]} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, type=Path, help="a hold-out root: RUN/<layout>-seed<N>/qat_int8.tflite")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    runs = sorted(d for d in args.runs.glob("*-seed*") if (d / "qat_int8.tflite").is_file())
    if not runs:
        raise SystemExit(f"no evaluated hold-out runs under {args.runs}")
    results = {}
    for run in runs:
        print(f"  {run.name} ...", flush=True)
        results[run.name] = score(run)
    body = f"{args.runs}: {len(runs)} runs.\n\n{pooled(results)}\n\nPer run:\n\n{table(results)}\n"
    summary = {
        run: {rule: {**r["identity"], "whole_error": r["whole_error"], "partial_error": r["partial_error"]}
              for rule, r in rules.items()}
        for run, rules in results.items()
    }  # fmt: skip
    result = {"machine": machine_info(), "note": args.note, "runs": str(args.runs), "results": summary}
    keep_run(result, "band_rules", HEAD, body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
