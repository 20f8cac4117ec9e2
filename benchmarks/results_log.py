"""Keep a benchmark's results: a Markdown face to read, the raw data apart.

``results/<name>.md`` is the face: a head saying what the numbers are, then one section a run, newest first, headed
by the date and the machine's CPU (``result["machine"]["cpu"]``, from `edge.core.machine.machine_info`).
``results/raw/<name>.jsonl`` is the runs' log: one run a line, oldest first, ``{"logged": time, "result": ...}`` in
strict JSON. A benchmark that writes one result instead of runs keeps it in ``results/raw/<name>.json``.
Pictures the faces embed are in ``results/img/``.
"""

from __future__ import annotations

import time
from pathlib import Path

from edge.core import strict_json

RESULTS = Path(__file__).resolve().parent / "results"
RAW, PICTURES = "raw", "img"  #: the folders, beside the faces, of the raw data and of the pictures
#: a new face's line under its head
RUNS_LINE = "Newest first, each run headed by its date and the CPU it ran on; their full results, oldest first: {log}."


def raw_path(face: Path, suffix: str = ".json") -> Path:
    """Where the raw data of the face ``DIR/<name>.md`` goes: ``DIR/raw/<name><suffix>`` (the folder made)."""
    folder = face.parent / RAW
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{face.stem}{suffix}"


def raw_link(raw: Path) -> str:
    """The Markdown link from a face to its raw data ``raw``."""
    return f"[{RAW}/{raw.name}]({RAW}/{raw.name})"


def picture_path(name: str) -> Path:
    """A new picture for the face ``<name>.md``: ``img/<name>_<time>.png`` (the folder made), linked from the face
    as ``img/<file name>``."""
    folder = RESULTS / PICTURES
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}_{time.strftime('%Y%m%d-%H%M%S')}.png"


def keep_run(
    result: dict,
    name: str,
    head: str,
    body: str,
    *,
    intro: str = "",
    title_suffix: str = "",
    out_dir: Path = RESULTS,
) -> tuple[Path, Path]:
    """Append ``result`` to the log ``raw/<name>.jsonl`` and put its section at the top of the face ``<name>.md``.

    The section: ``## <date>: <cpu><title_suffix>``, then ``intro``, the note, ``body`` and where the log has it.
    A new face starts with ``head`` (a title and what the numbers are) and a line on its runs and log; a face's head
    (all above its first section) is kept as it is after.
    Returns (face path, log path).
    """
    face = out_dir / f"{name}.md"
    log = raw_path(face, ".jsonl")
    now = time.localtime()
    logged = time.strftime("%Y-%m-%dT%H:%M:%S", now)
    with log.open("a") as f:
        f.write(strict_json.dumps({"logged": logged, "result": result}) + "\n")
    link = raw_link(log)
    text = face.read_text() if face.exists() else f"{head}\n{RUNS_LINE.format(log=link)}\n"
    top, first, sections = text.partition("\n## ")
    note = result.get("note")
    section = f"\n## {time.strftime('%Y-%m-%d %H:%M', now)}: {result['machine']['cpu']}{title_suffix}\n\n"
    section += "".join(f"{part}\n\n" for part in (intro, f"Note: {note}" if note else "", body) if part)
    section += f"Full result: {link}, logged {logged}\n"
    face.write_text(top + section + first + sections)
    return face, log
