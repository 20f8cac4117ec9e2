"""`tlfseg run --stills`: a folder of separate captures judged image by image, as `tlfseg predict` judges them; read
as one scan instead, the same folder jumps from band to band, and the run says what to do."""

import json

import pytest

from edge.core.imagefiles import read_image
from edge.live.pipeline import FramePipeline
from edge.live.sinks import read_log
from edge.tools.cli import main

#: captures of one 512x512 layout, the band near the top (rows 9-10) or deeper (rows 36-43), taken in turns
SHALLOW = ("img_00071", "img_00073", "img_00260", "img_00291")
DEEP = ("img_00102", "img_00113", "img_00255", "img_00106")


@pytest.fixture(scope="module")
def captures(real_data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("captures")
    names = [n for pair in zip(SHALLOW, DEEP, strict=True) for n in pair]
    for i, name in enumerate(names):
        (folder / f"{i:02d}_{name}.png").symlink_to(real_data_dir / "images" / f"{name}.png")
    return folder


def run(argv, capsys):
    code = main(["run", "--no-display", "--status-every", "0", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_stills_are_each_measured_as_predict_measures_them(captures, tmp_path, capsys, bundled_engine):
    record = tmp_path / "rec"
    code, out, err = run(["--source", str(captures), "--stills", "--record", str(record)], capsys)
    assert code == 0 and "as stills (each image on its own)" in out and "detected on every image" in out
    summary = json.loads((record / "summary.json").read_text())
    assert summary["frames"]["processed"] == 8 and summary["frames"]["dropped_total"] == 0
    frames, _, _ = read_log(record / "frames.jsonl")
    paths = sorted(captures.iterdir())
    assert [r["image"] for r in frames] == [p.name for p in paths]
    assert not any("jump" in r["flags"] for r in frames) and "--stills" not in err
    alone = FramePipeline(bundled_engine, video=False)  # what `tlfseg predict` runs
    for r, path in zip(frames, paths, strict=True):
        m = alone(read_image(path)).measurement
        assert r["thickness_px"] == pytest.approx(m.thickness_px, abs=1e-3) and r["flags"] == list(m.flags)


def test_the_same_folder_read_as_one_scan_jumps_and_the_run_says_so(captures, capsys):
    code, out, err = run(["--source", str(captures), "--every-frame"], capsys)
    assert code == 0 and "as a stream (the band tracked)" in out
    jumps = int(err.split(" of 8 images were flagged jump")[0].rsplit(" ", 1)[-1])
    assert jumps >= 3 and "run with --stills" in err  # every deep capture after a shallow one is far from the track
