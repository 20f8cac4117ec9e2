"""The rule that picks the shipped model (`quantization.ship_rule`), applied to kept evidence:

    python benchmarks/ship_rule.py --current w8c_distill=runs/ship_distill --candidate w8c_depth=runs/ship_depth

Each model is `HOLDOUTS=RUN`: its recipe's layout hold-outs, `results/holdouts/HOLDOUTS/holdouts.json` (or a path to
a holdouts.json), and its latest stress run on the test split in `results/raw/stress.jsonl` whose `run` is RUN.
Writes the verdict table to results/ship_rule.md (newest first).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import RESULTS, keep_run  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402
from quantization.ship_rule import Evidence, table  # noqa: E402

HEAD = (
    "# The rule that picks the shipped model\n\n"
    "`python benchmarks/ship_rule.py --current HOLDOUTS=RUN --candidate HOLDOUTS=RUN`: a candidate ships when, over 3 "
    "seeds, its mean fascia Dice over both layout hold-outs is at most 0.02 below the current model's, its test-split "
    "Dice at most 0.01 below, its wrong-structure frames (and those reported good) no more, and it is better on the "
    "stress suite's `top removed` and `more tissue above` rows (`quantization/ship_rule.py`). The evidence is read "
    "from results/holdouts/ and results/raw/stress.jsonl; no model is run.\n"
)


def stress_run(run: str, log: Path = RESULTS / "raw" / "stress.jsonl") -> dict:
    """The latest stress run logged for `run` (a run folder, as the stress benchmark names it)."""
    found = [json.loads(line)["result"] for line in log.read_text().splitlines() if line.strip()]
    found = [r for r in found if r.get("run") == run]
    if not found:
        raise ValueError(f"no stress run of {run} in {log}")
    return found[-1]


def evidence(spec: str) -> Evidence:
    holdouts, _, run = spec.partition("=")
    path = Path(holdouts) if holdouts.endswith(".json") else RESULTS / "holdouts" / holdouts / "holdouts.json"
    return Evidence.read(f"{holdouts} / {run}", path, stress_run(run))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--current", required=True, metavar="HOLDOUTS=RUN")
    p.add_argument("--candidate", required=True, metavar="HOLDOUTS=RUN", action="append")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    current = evidence(args.current)
    tables = [table(current, evidence(c)) for c in args.candidate]
    body = (args.note + "\n\n" if args.note else "") + "\n".join(tables)
    result = {"machine": machine_info(), "current": args.current, "candidates": args.candidate, "tables": tables}
    keep_run(result, "ship_rule", HEAD, body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
