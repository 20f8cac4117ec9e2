"""benchmarks/bench_models.py: a quick run times every model, the whole frame and int8 vs float32, and keeps it."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from edge.core.engine import DEFAULT_MODEL

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_models.py"


@pytest.fixture(scope="module")
def bench():
    from benchmarks import bench_models

    return bench_models


def test_architecture_and_float_partner_are_read_from_the_model(bench, bundled_engine, tmp_path):
    spec = bench.UNetSpec.of(bundled_engine)
    (h, w), (oh, _) = bundled_engine.input_size, bundled_engine.output_size
    assert spec is not None and spec.input_size == (h, w) and spec.depth == 4 and spec.stem == h // oh
    stem = f"_stem{spec.stem}" if spec.stem > 1 else ""
    assert spec.name == f"unet{spec.base_filters}{stem}_d4_{h}x{w}_float32"
    run = tmp_path / "run"
    run.mkdir()
    (run / "qat_int8.tflite").write_bytes(b"")
    assert bench.float_partner(run / "qat_int8.tflite") is None
    (run / "float32.tflite").write_bytes(b"")
    assert bench.float_partner(run / "qat_int8.tflite") == run / "float32.tflite"
    (run / "m_int8.tflite").write_bytes(b"")
    (run / "m_float32.tflite").write_bytes(b"")
    assert bench.float_partner(run / "m_int8.tflite") == run / "m_float32.tflite"


@pytest.mark.slow
def test_quick_run_times_models_whole_frame_and_int8_vs_float(bench, tmp_path, capsys):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("the baseline and float32 twin are built with TensorFlow (training extra), not installed")
    cache, out, model = tmp_path / "cache", tmp_path / "out", tmp_path / "alone_int8.tflite"
    shutil.copy(DEFAULT_MODEL, model)  # no float32 partner next to it: an untrained twin is built
    argv = ["--quick", "--repeats", "2", "--baseline-filters", "2", "--cache", str(cache), "--out-dir", str(out)]
    assert bench.main([*argv, str(model)]) == 0
    text = capsys.readouterr().out
    # the baseline, plus a twin unless the same model bundled with its float32 partner is recognised
    assert re.search(r"building [12] float32 model\(s\)", text) and "whole frame: round 2/2" in text
    (run,) = (out / "raw" / "models.jsonl").read_text().splitlines()
    r = json.loads(run)["result"]

    base, int8, twin = r["models"]
    assert base["role"] == "baseline" and base["precision"] == "float32" and base["speedup_vs_baseline"] == 1.0
    assert (
        int8["path"] == str(model)
        and int8["precision"] == "int8"
        and int8["input"] == list(bench.Engine(model).input_size)
    )
    assert twin["role"] == "twin" and twin["precision"] == "float32" and twin["output"] == int8["output"]
    assert all(m["ms"]["n"] == 2 and m["size_bytes"] > 0 for m in r["models"])
    assert int8["speedup_vs_baseline"] == pytest.approx(r["baseline_ms"] / int8["ms"]["median"], rel=0.02)
    (pair,) = r["int8_vs_float32"]["pairs"]
    assert pair["float_over_int8"] == pytest.approx(pair["float32_ms"] / pair["int8_ms"], rel=0.02)

    assert [f["mode"] for f in r["whole_frame"]] == list(bench.MODES)
    for f in r["whole_frame"]:
        st = f["stages"]
        assert set(st) == {*bench.STAGES, "total", "around_model"} and st["inference"]["median"] > 0
        assert st["total"]["median"] >= 0.9 * sum(st[k]["median"] for k in bench.STAGES)
        assert st["around_model"]["median"] < st["total"]["median"] <= st["total"]["p95"]
        cpu = f["cpu_stages"]  # the same frames in this thread's CPU time: never more than their wall time, roughly
        assert set(cpu) == set(st) and 0 < cpu["inference"]["median"] <= 1.2 * st["inference"]["median"]
    # ROI detection finds the 1000x900 B-mode area on the 1920x1080 capture, as the fixed ROI states it
    assert set(r["settings"]["roi_seen"].values()) == {str(bench.BMODE)}
    assert r["settings"]["opencv_threads"] == 1 and "OpenCV 1 thread(s)" in text  # the target's 1 thread
    kinds = {t["target"].split(" (")[0] for t in r["targets"]}
    assert kinds == {
        "int8 model alone <= 6 ms",
        ">= 100x faster than the paper-faithful U-Net",
        "whole frame <= 10 ms",
        "whole frame <= model + 2 ms",
        "live p95 <= 1.5x p50",
    }
    # section 4: the 1080p capture and the shared set's sizes, each stage split by function
    scenes = [s["scene"] for s in r["profile"]]
    assert scenes[0].startswith("1920x1080 phantom capture") and len(scenes) in (1, 1 + bench.LAYOUTS)
    for scene in r["profile"]:
        st = scene["stages"]
        assert {"preprocess", "inference", "postprocess", "measure", "overlay", "total"} <= set(st)
        assert all(0 < v["cpu_ms"] <= 1.2 * v["ms"] + 0.05 for v in st.values())
        assert st["inference"]["rows"] == [] and st["preprocess"]["rows"]
        rows = [name for stage in st.values() for name, _, _ in stage["rows"]]
        assert any(r.startswith("preprocess.resize_image (cv2.resize ") for r in rows)  # the model's input, shrunk
        assert all(0.0 <= share <= 1.0 for stage in st.values() for _, _, share in stage["rows"])
    assert "### 4. Where the time goes around the model" in text
    assert r["machine"]["cpu"] and r["machine"]["load_average_1min_at_end"] is not None

    # second run: the built models come from the cache; no twin means no pair, said so; newest section first
    assert bench.main([*argv, "--no-twins", "--note", "second", str(model)]) == 0
    assert "building" not in capsys.readouterr().out
    md = (out / "models.md").read_text()
    assert md.count("\n## ") == 2 and md.index("Note: second") < md.index(
        f"{bench.UNetSpec.of(bench.Engine(model)).name} (untrained twin)"
    )
    assert "NOT paper-faithful" in md and "no float32 partner (twins off)" in md and "| NOT met |" in md
