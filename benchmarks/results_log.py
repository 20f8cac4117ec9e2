"""Keep a benchmark run: a JSON file of the whole result, and a section prepended to a Markdown log (newest first).

Each section is headed by the date and the machine's CPU (``result["machine"]["cpu"]``, from
`edge.core.machine.machine_info`), carries ``result["note"]`` when there is one, and names its JSON file.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def keep_run(
    result: dict,
    prefix: str,
    log_name: str,
    head: str,
    body: str,
    *,
    intro: str = "",
    title_suffix: str = "",
    out_dir: Path = RESULTS,
) -> tuple[Path, Path]:
    """Write ``<prefix>_<time>_<cpu>.json`` and prepend a section to ``log_name`` under its ``head``.

    The section: ``## <date>: <cpu><title_suffix>``, then ``intro``, the note and ``body``.
    Returns (log path, JSON path).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cpu = result["machine"]["cpu"]
    slug = re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-")
    json_path = out_dir / f"{prefix}_{time.strftime('%Y%m%d-%H%M%S')}_{slug}.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    log = out_dir / log_name
    previous = log.read_text() if log.exists() else ""
    previous = previous[len(head) :] if previous.startswith(head) else ""
    note = result.get("note")
    section = f"\n## {time.strftime('%Y-%m-%d %H:%M')}: {cpu}{title_suffix}\n\n"
    section += "".join(f"{part}\n\n" for part in (intro, f"Note: {note}" if note else "", body) if part)
    section += f"Full result: `{json_path.name}`\n"
    log.write_text(head + section + previous)
    return log, json_path
