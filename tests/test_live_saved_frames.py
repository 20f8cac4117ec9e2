"""`tlfseg run --save-frames DIR`: raw frames worth labelling, the flagged ones and a sample spread over the session,
bounded in number, each with the runtime's reason."""

import json

import cv2
import numpy as np
from live_support import small_phantom

from edge.live.sinks.saved_frames import SpreadSample, read_index
from edge.tools.cli import main


def test_a_spread_sample_stays_within_its_capacity_and_spreads_over_the_whole_time():
    pool, gone = SpreadSample(capacity=8, spacing=1.0), []
    for t in np.arange(0.0, 1000.0, 0.1):  # 1,000 s of frames at 10 fps
        if pool.wants(t):
            gone += pool.add(float(t), f"{t:.1f}")
    times = [t for t, _ in pool.items]
    assert len(times) <= 8 and times[0] == 0.0 and times[-1] > 700  # the whole session, not its first seconds
    gaps = np.diff(times)
    assert gaps.min() >= 64 and gaps.max() <= 2 * gaps.min() + 1  # evenly spread
    assert len(gone) + len(times) == len(set(gone)) + len(times)  # each let go once


def test_run_keeps_raw_frames_flagged_and_sampled_with_their_reasons(tmp_path, capsys):
    folder = tmp_path / "shots"
    folder.mkdir()
    phantom = small_phantom()
    for i in range(40):
        image = phantom.frame(i).image if i % 2 else np.zeros_like(phantom.frame(0).image)  # every other one blank
        cv2.imwrite(str(folder / f"f{i:03d}.png"), image)
    out = tmp_path / "label"
    argv = ["run", "--source", str(folder), "--every-frame", "--no-display", "--status-every", "0", "--fps", "10"]
    argv += ["--roi", "40,30,200,180"]
    assert main([*argv, "--save-frames", str(out), "--save-frames-max", "6"]) == 0
    index = json.loads((out / "index.json").read_text())
    kept = index["frames"]
    flagged = [r for r in kept if r["kept"] == "flagged"]
    sampled = [r for r in kept if r["kept"] == "sample"]
    assert 1 <= len(flagged) <= 3 and 1 <= len(sampled) <= 3
    assert all(r["flags"] and not r["good"] for r in flagged) and all(not r["flags"] for r in sampled)
    assert all(r["seq"] % 2 == 0 for r in flagged) and all(r["seq"] % 2 == 1 for r in sampled)
    for r in kept:  # the captured picture itself, not the overlay
        saved = cv2.imread(str(out / r["file"]), cv2.IMREAD_UNCHANGED)
        source = cv2.imread(str(folder / f"f{r['seq']:03d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(saved, source)
    assert sorted(p.name for p in (out / "frames").iterdir()) == sorted(r["file"][7:] for r in kept)
    assert read_index(out / "index.json") == {(out / r["file"]).resolve(): r for r in kept}  # as label export reads it
    assert f"kept: {out}: {len(flagged)} flagged and {len(sampled)} sampled frames to label" in capsys.readouterr().out
    assert main([*argv, "--save-frames", str(out), "--save-frames-max", "2"]) == 0  # never into a folder in use
    assert (tmp_path / "label-2" / "index.json").is_file() and len(list((out / "frames").iterdir())) == len(kept)
