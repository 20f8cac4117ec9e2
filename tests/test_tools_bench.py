"""`tlfseg bench`: runs small, says which images it used, reports float32 as skipped without a float model."""

import json

import pytest

from edge.core.machine import machine_info
from edge.tools.bench import paper_images, thread_counts
from edge.tools.cli import main


def test_bench_small_run_on_phantom_frames(tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    argv = ["bench", "--images", "4", "--threads", "1", "--stream-frames", "4", "--fusion-frames", "2"]
    code = main([*argv, "--data", str(tmp_path / "no-data"), "--json", str(out_json)])
    text = capsys.readouterr().out
    assert code == 0
    result = json.loads(out_json.read_text())
    assert result["images"].startswith("4 synthetic phantom frames") and "phantom frames" in text
    # one int8 row per thread count asked for; a float32 row joins it when a float32 twin is bundled
    (row,) = [v for v in result["variants"] if v["precision"] == "int8"]
    assert all(v["precision"] == "float32" for v in result["variants"] if v is not row)
    p = row["paper_experiment"]
    assert row["precision"] == "int8" and row["threads"] == 1 and p["images"] == 4
    # both figures are rounded to the millisecond: total_s's rounding grows 87/4-fold when scaled
    assert p["seconds_for_87"] == pytest.approx(p["total_s"] * 87 / 4, abs=0.0005 * 87 / 4 + 0.0005)
    assert p["speedup_vs_paper"] == pytest.approx(43 / p["seconds_for_87"], rel=0.05)
    s = row["stream"]
    assert s["frames_processed"] == 4 and s["frames_seen"] >= 4 and 0 <= s["drop_rate"] < 1
    assert set(result["fusion"]) == {"frames", "alpha", "off", "on"}
    assert result["peak_rss_mb"] > 0 and result["machine"]["cores"] >= 1
    if "skipped" in result["float32"]:
        assert "float32 skipped" in text
    assert "vs 43 s" in text and "peak memory" in text and "e2e p50" in text


@pytest.mark.realdata
def test_paper_images_are_real_when_the_data_is_there(real_data_dir):
    images, described = paper_images(real_data_dir, 5)
    assert len(images) == 5 and described.startswith("5 real images from dl_track_apo")


def test_thread_counts_and_machine_info(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert thread_counts("1,2,all") == [1, 2, 4]
    assert thread_counts("all,4,1") == [4, 1]
    with pytest.raises(ValueError):
        thread_counts("0")
    info = machine_info()
    assert info["cpu"] and info["python"] and "numpy" in info["packages"]


def test_bench_bad_float_model_is_one_error(tmp_path, capsys):
    code = main(["bench", "--images", "1", "--float-model", str(tmp_path / "none.tflite"), "--stream-frames", "0"])
    assert code == 1 and "model file not found" in capsys.readouterr().err
