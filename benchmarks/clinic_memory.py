"""Peak memory of `tlfseg report` and `tlfseg export` on a long recording: a frame log of about 60 MB.

    python benchmarks/clinic_memory.py [--mb 60] [--code DIR] [--note "..."]

A 20-frame demo recording is made with `tlfseg run --record`, and its frame log repeated (sequence numbers and times
running on) until it is `--mb` MB: a session of tens of thousands of frames, as an hour at 25 fps writes. The
repeats are flagged (`jump`), so that the key frames are among the first 20, which the overlay video holds. Then
`tlfseg report` and `tlfseg export --dicom` run on it, each in a process of its own, and their peak resident memory
(`ru_maxrss` of that process) is taken, and the same for the 20-frame recording as the floor (Python, OpenCV,
pydicom). `--code DIR` runs the tlfseg of another checkout (an earlier commit: `git archive REV | tar -x -C DIR`).
Writes results/clinic_memory.md (newest first) and appends the run to results/raw/clinic_memory.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_log import keep_run  # noqa: E402
from edge.core.machine import machine_info  # noqa: E402

HEAD = (
    "# Clinic exports: peak memory on a long recording\n\n"
    "`python benchmarks/clinic_memory.py`. Peak resident memory (MB, the process's `ru_maxrss`) of `tlfseg report` "
    "and `tlfseg export --dicom` on a demo recording whose frame log is repeated to about 60 MB, and on the 20-frame "
    "recording it was made from (the floor: Python, OpenCV, pydicom, the command's own work), with the time each "
    "took.\n"
)
ROOT = Path(__file__).resolve().parents[1]


def tlfseg(code: Path, *argv: str) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `tlfseg ARGV` from the checkout `code`, in a process of its own; RuntimeError
    when it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.tools.cli", *argv],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"tlfseg {' '.join(argv)} failed: {proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, seconds


def long_log(source: Path, target: Path, megabytes: float) -> int:
    """`target`, `source`'s frame log repeated until it holds `megabytes` MB, the repeats flagged; its number of frame
    records."""
    records = [json.loads(x) for x in source.read_text().splitlines()]
    frames = [r for r in records if "seq" in r]
    span = frames[-1]["t_s"] + 0.04
    n, size, lap = 0, 0, 0
    with target.open("w") as fh:
        while size < megabytes * 1e6:
            for r in frames:
                record = {**r, "seq": n, "t_s": round(r["t_s"] + lap * span, 4)}
                if lap:
                    record.update(good=False, flags=["jump"])
                line = json.dumps(record, separators=(",", ":"))
                size += fh.write(line + "\n")
                n += 1
            lap += 1
    return n


def measure(megabytes: float, code: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        short, long = Path(tmp) / "short-left", Path(tmp) / "long-left"
        tlfseg(
            code,
            "run",
            "--source",
            "demo",
            "--frames",
            "20",
            "--no-display",
            "--mm-per-px",
            "0.1",
            "--record",
            f"{short}",
        )
        long.mkdir()
        for name in ("summary.json", "overlay_0000.mp4"):
            (long / name).write_bytes((short / name).read_bytes())
        result = {"frames": long_log(short / "frames.jsonl", long / "frames.jsonl", megabytes)}
        result["log_mb"] = round((long / "frames.jsonl").stat().st_size / 1e6, 1)
        for name, folder in (("floor", short), ("long", long)):
            for command, out in (("report", ["--out", f"{folder}.html"]), ("export", ["--dicom", f"{folder}-dicom"])):
                mb, seconds = tlfseg(code, command, str(folder), *out)
                result[f"{command}_{name}"] = {"peak_rss_mb": round(mb, 1), "seconds": round(seconds, 1)}
        return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=60.0, help="size of the frame log to generate (MB)")
    p.add_argument("--code", type=Path, default=ROOT, help="the tlfseg checkout to run (default: this one)")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    result = {"machine": machine_info(), "note": args.note, "memory": measure(args.mb, args.code.resolve())}
    r = result["memory"]
    rows = [
        ("demo, 20 frames (the floor)", "-", 20, "floor"),
        ("its log repeated", f"{r['log_mb']} MB", r["frames"], "long"),
    ]
    body = (
        "| recording | frame log | frames | report: peak RSS | time | export: peak RSS | time |\n" + "|---" * 7 + "|\n"
    )
    for label, size, frames, key in rows:
        report, export = r[f"report_{key}"], r[f"export_{key}"]
        body += f"| {label} | {size} | {frames} | {report['peak_rss_mb']} MB | {report['seconds']} s "
        body += f"| {export['peak_rss_mb']} MB | {export['seconds']} s |\n"
    face, log = keep_run(result, "clinic_memory", HEAD, body)
    print(body)
    print(f"wrote {face}, appended to {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
