"""benchmarks/results: each benchmark's page and its raw log (benchmarks/results_log.py), and links that resolve."""

import json
import re
from pathlib import Path

import pytest

from benchmarks.results_log import RESULTS, keep_run

ROOT = Path(__file__).resolve().parents[1]
#: an inline Markdown link or picture: [text](target) or [text](target "title")
LINK = re.compile(r"\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(RESULTS.glob("*.md"))]


def _strict(line: str) -> dict:
    def refuse(constant: str):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    targets = {m.group(1).split("#")[0] for m in LINK.finditer(page.read_text())}
    relative = {t for t in targets if t and not re.match(r"[a-z][a-z0-9+.-]*:", t)}
    assert [t for t in sorted(relative) if not (page.parent / t).exists()] == []


def test_every_log_is_strict_json_oldest_first_and_every_page_is_listed():
    index = (RESULTS / "README.md").read_text()
    pages = {p.name for p in RESULTS.glob("*.md")} - {"README.md"}
    assert pages and all(f"]({name})" in index for name in pages)
    for log in (RESULTS / "raw").glob("*.jsonl"):
        assert f"{log.stem}.md" in pages
        runs = [_strict(line) for line in log.read_text().splitlines()]
        logged = [run["logged"] for run in runs]
        assert logged == sorted(logged) and all(run["result"]["machine"]["cpu"] for run in runs)
        page = (RESULTS / f"{log.stem}.md").read_text()
        assert all(f"logged {t}\n" in page for t in logged)


def test_keep_run_appends_to_the_log_and_puts_the_newest_run_first(tmp_path):
    def run(note: str, dice: float) -> dict:
        return {"machine": {"cpu": "Test CPU"}, "note": note, "dice": dice}

    head = "# Speed\n\nWhat the numbers are.\n"
    face, log = keep_run(run("first", 0.5), "speed", head, "| a |", out_dir=tmp_path)
    assert (face, log) == (tmp_path / "speed.md", tmp_path / "raw" / "speed.jsonl")
    face.write_text(face.read_text().replace("What the numbers are.", "Edited by hand."))
    keep_run(
        run("second", float("nan")), "speed", head, "| b |", intro="Intro.", title_suffix=", 2 cores", out_dir=tmp_path
    )

    first, second = map(_strict, log.read_text().splitlines())
    assert first["result"]["note"] == "first" and second["result"] == run("second", 0.5) | {"dice": None}
    text = face.read_text()
    assert (
        text.startswith("# Speed\n\nEdited by hand.\n\nNewest first") and "[raw/speed.jsonl](raw/speed.jsonl)" in text
    )
    assert text.count("\n## ") == 2 and text.index("Note: second") < text.index("Note: first")
    assert ": Test CPU, 2 cores\n\nIntro.\n\nNote: second\n\n| b |\n\nFull result: " in text
    assert f"logged {second['logged']}\n" in text
