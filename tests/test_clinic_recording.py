"""A recording read back for `tlfseg export` and `tlfseg report`: damaged files refused in one line naming the file,
line and key (before: tracebacks), the frame log streamed (memory a few dozen bytes a frame) to the same numbers."""

import json
import shutil
import statistics
import tracemalloc

import numpy as np
import pytest
from clinic_support import flag_frames

from clinic.recording import Recording
from clinic.report.html import build_report
from edge.live.sinks import read_log


def _frames(edit):
    """An edit of the log: `edit(first frame record)`, then the log written back."""

    def apply(folder):
        log = folder / "frames.jsonl"
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        edit(next(x for x in lines if "seq" in x))
        log.write_text("".join(json.dumps(x) + "\n" for x in lines))

    return apply


def _line(text: bytes):
    """An edit inserting `text` as the log's third line."""

    def apply(folder):
        log = folder / "frames.jsonl"
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"".join(lines[:2] + [text + b"\n"] + lines[2:]))

    return apply


def _file(name: str, text: str):
    return lambda folder: (folder / name).write_text(text)


def _summary(**values):
    def apply(folder):
        summary = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**summary, **values}))

    return apply


DAMAGED = {  # what was done to a good recording -> (the file named, what the one line says)
    "empty log": (_file("frames.jsonl", ""), "frames.jsonl", "no frame recorded"),
    "events only": (_file("frames.jsonl", '{"event":"opened","t_s":0,"detail":"x"}\n'), "frames.jsonl", "no frame"),
    "summary a list": (_file("summary.json", "[1,2]"), "summary.json", "holds [1, 2], not a JSON object"),
    "summary junk": (_file("summary.json", "junk"), "summary.json", "not valid JSON (Expecting value"),
    "started a number": (_summary(started=5), "summary.json", "started is 5, not a time"),
    "started words": (_summary(started="yesterday"), "summary.json", "started is 'yesterday', not a time as"),
    "model a list": (_summary(model=["m"]), "summary.json", "model is a list, not text"),
    "clinic a list": (_file("clinic.json", "[]"), "clinic.json", "holds [], not a JSON object"),
    "clinic junk": (_file("clinic.json", "junk"), "clinic.json", "not valid JSON (Expecting value"),
    "side up": (_file("clinic.json", '{"side": "up"}'), "clinic.json", "side must be one of"),
    "visit a number": (_file("clinic.json", '{"visit": 5}'), "clinic.json", "visit is 5, not a label"),
    "log line 5": (_line(b"5"), "frames.jsonl", "line 3: holds 5, not a JSON object"),
    "log line [1]": (_line(b"[1]"), "frames.jsonl", "line 3: holds [1], not a JSON object"),
    "log line cut": (_line(b'{"seq": 3, "go'), "frames.jsonl", "line 3: not valid JSON"),
    "log line not UTF-8": (_line(b'{"seq": "\xff"}'), "frames.jsonl", "line 3: not valid JSON"),
    "log line 2 MB": (_line(b" " * (2 << 20)), "frames.jsonl", "line 3: longer than 1048576 bytes"),
    "no seq": (_line(b"{}"), "frames.jsonl", "line 3: neither a frame (no seq) nor an event"),
    "echo 5": (_frames(lambda f: f.update(echo=5)), "frames.jsonl", "line 2: echo is 5, not an object"),
    "echo text": (_frames(lambda f: f.update(echo={"fascia": "x"})), "frames.jsonl", "echo: fascia is text"),
    "mm_per_px [0.1]": (_frames(lambda f: f.update(mm_per_px=[0.1])), "frames.jsonl", "mm_per_px is a list"),
    "mm_per_px 0": (_frames(lambda f: f.update(mm_per_px=0)), "frames.jsonl", "mm_per_px is 0, not a number above 0"),
    "mm_per_px true": (_frames(lambda f: f.update(mm_per_px=True)), "frames.jsonl", "mm_per_px is true/false"),
    "thickness NaN": (_frames(lambda f: f.update(thickness_mm=float("nan"))), "frames.jsonl", "thickness_mm is nan"),
    "thickness 1e999": (_frames(lambda f: f.update(thickness_mm=float("inf"))), "frames.jsonl", "thickness_mm is inf"),
    "thickness 10**400": (_frames(lambda f: f.update(thickness_px=10**400)), "frames.jsonl", "thickness_px is inf"),
    "thickness -1": (_frames(lambda f: f.update(thickness_mm=-1)), "frames.jsonl", "not a number at least 0"),
    "good text": (_frames(lambda f: f.update(good="yes")), "frames.jsonl", "good is text, not true or false"),
    "flags text": (_frames(lambda f: f.update(flags="jump")), "frames.jsonl", "flags is text, not a list of flags"),
    "flags [5]": (_frames(lambda f: f.update(flags=[5])), "frames.jsonl", "flags holds 5, not a flag name"),
    "seq 1.5": (_frames(lambda f: f.update(seq=1.5)), "frames.jsonl", "seq is 1.5, not a frame number"),
    "panel junk": (_frames(lambda f: f.update(panel="a,b")), "frames.jsonl", "panel is 'a,b', not 'x,y,w,h'"),
}


@pytest.mark.parametrize("damage, named, says", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_recording_is_one_line_naming_the_file(tmp_path, recordings, clinic_cli, capsys, damage, named, says):
    """Export and report refuse it with exit status 1 and one line naming the file (the log's line) and what is
    wrong, and write nothing (before: IndexError, AttributeError, TypeError tracebacks, or "Expecting value" with
    no file named)."""
    folder = tmp_path / "p07-left"
    shutil.copytree(recordings / "visit2-left", folder)
    damage(folder)
    for command, out in (("export", ["--dicom", str(tmp_path / "dicom")]), ("report", ["--out", str(tmp_path / "r")])):
        assert clinic_cli([command, *out, str(folder)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"tlfseg {command}: error: {folder / named}") and err.count("\n") == 1, err[:300]
        assert says in err, err[:300]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p07-left"]


def test_streamed_numbers_equal_the_records(tmp_path, recordings):
    """The statistics and key frames of the streamed log equal those of its records read whole (`read_log`), also
    with flagged frames, events and a partial last line (a power cut), which is left out."""
    folder = tmp_path / "p07-left"
    shutil.copytree(recordings / "visit2-left", folder)
    flag_frames(folder, slice(2, 5), "jump")
    with (folder / "frames.jsonl").open("a") as fh:
        fh.write('{"event":"lost","t_s":9,"detail":"x"}\n{"seq":99,"good":tr')
    frames, _, partial = read_log(folder / "frames.jsonl")
    log = Recording.load(folder).log
    assert partial and len(log) == len(frames) == 20
    good = [f for f in frames if f["good"]]
    for stats, key in ((log.thickness(), "thickness_mm"), (log.echogenicity(), None)):
        values = [f[key] if key else f["echo"]["fascia"] for f in good]
        p25, p50, p75 = statistics.quantiles(values, n=4, method="inclusive")
        assert (stats.median, stats.p25, stats.p75, stats.used) == (
            round(p50, 4),
            round(p25, 4),
            round(p75, 4),
            len(good),
        )
    assert log.flagged == 3 and log.flag_counts == {"jump": 3}
    parts = np.array_split([i for i, f in enumerate(frames) if f["good"]], 3)
    assert log.key_frames(3) == sorted(int(max(p, key=lambda i: (frames[i]["confidence"], -i))) for p in parts)
    assert [log.record(i) for i in log.key_frames(3)] == [frames[i] for i in log.key_frames(3)]


def _long(recordings, folder, frames: int) -> None:
    """A recording whose log holds `frames` frame records (the demo's repeated)."""
    shutil.copytree(recordings / "visit2-left", folder)
    lines = [x for x in (folder / "frames.jsonl").read_text().splitlines(keepends=True) if '"seq"' in x]
    (folder / "frames.jsonl").write_text("".join(lines[i % len(lines)] for i in range(frames)))


def test_a_long_log_is_streamed(tmp_path, recordings):
    """Memory for the report grows by under 200 bytes a frame, against about 1 KB a frame in the log (before: every
    record kept as a dict, about 5 KB a frame: 628 MB peak RSS for a 60 MB log, benchmarks/clinic_memory.py)."""
    small, large = tmp_path / "small-left", tmp_path / "large-left"
    _long(recordings, small, 2_000)
    _long(recordings, large, 8_000)
    build_report([Recording.load(small)])  # imports and caches, before the counting

    def peak(folder) -> int:
        tracemalloc.start()
        try:
            build_report([Recording.load(folder)])
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    per_frame = (peak(large) - peak(small)) / 6_000
    assert per_frame < 200, f"{per_frame:.0f} bytes a frame"
    assert (large / "frames.jsonl").stat().st_size / 8_000 > 500  # the records themselves are several times that
