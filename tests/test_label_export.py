"""`tlfseg label export` without a server: the model's band on each frame as Label Studio polygons in tasks.json,
the labelling interface beside it, nothing written over. (Into a real server: test_label_studio_server.py.)"""

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from label_support import phantom_frames

from edge.core.labels import FASCIA
from edge.tools.cli import main
from quantization.labelling.geometry import rasterize
from quantization.labelling.label_studio import LABEL_CONFIG


def drawn_band(result: list[dict]) -> np.ndarray:
    """The pre-annotation's polygons as a band mask."""
    w, h = result[0]["original_width"], result[0]["original_height"]
    return rasterize([np.array(r["value"]["points"]) * [w / 100, h / 100] for r in result], (h, w))


def test_export_writes_tasks_with_the_models_band_as_polygons(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    out = tmp_path / "ls"
    assert main(["label", "export", "--images", str(folder), "--out", str(out)]) == 0
    assert (out / "label_config.xml").read_text() == LABEL_CONFIG
    assert not (out / "project.json").exists()
    tasks = json.loads((out / "tasks.json").read_text())
    assert [t["data"]["frame"] for t in tasks] == ["f0.png", "f1.png"]
    for t in tasks:
        assert t["data"]["image"] == f"/data/local-files/?d=frames/{t['data']['frame']}"
        (prediction,) = t["predictions"]
        assert prediction["model_version"] == "tlfseg_unet_int8.tflite"
        assert {r["type"] for r in prediction["result"]} == {"polygonlabels"}
        band, true = drawn_band(prediction["result"]), truth[t["data"]["frame"]] == FASCIA
        assert 2 * np.count_nonzero(band & true) / (band.sum() + true.sum()) > 0.8  # the model's band, near the truth
        assert not band[:, :110].any() and not band[:, 510:].any()  # only inside the B-mode area (x 110..509)
    assert "2 tasks in" in capsys.readouterr().out


def test_a_frame_that_cannot_be_read_is_named_and_the_others_exported(phantom, tmp_path, capsys):
    folder, _ = phantom_frames(phantom, tmp_path)
    (folder / "broken.png").write_bytes(b"not a png")
    assert main(["label", "export", "--images", str(folder), "--out", str(tmp_path / "ls")]) == 1
    assert [t["data"]["frame"] for t in json.loads((tmp_path / "ls" / "tasks.json").read_text())] == [
        "f0.png",
        "f1.png",
    ]
    assert "broken.png: not a readable image (corrupt or unsupported format)" in capsys.readouterr().err


def test_export_writes_over_nothing_and_checks_its_arguments(phantom, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    folder, _ = phantom_frames(phantom, tmp_path)
    out = tmp_path / "ls"
    out.mkdir()
    (out / "tasks.json").write_text("mine")
    assert main(["label", "export", "--images", str(folder), "--out", str(out)]) == 1
    assert (out / "tasks.json").read_text() == "mine"
    assert f"{out / 'tasks.json'} exists; not written over" in capsys.readouterr().err

    argv = ["label", "export", "--images", str(folder), "--out", str(tmp_path / "o")]
    assert main([*argv, "--files-root", str(tmp_path / "elsewhere")]) == 1
    assert "does not hold the image folder" in capsys.readouterr().err
    assert main([*argv, "--url", "http://127.0.0.1:9"]) == 1
    assert "--url needs --token or $LABEL_STUDIO_API_KEY" in capsys.readouterr().err


def test_a_server_that_does_not_answer_is_one_line(phantom, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    folder, _ = phantom_frames(phantom, tmp_path)
    argv = ["label", "export", "--images", str(folder), "--out", str(tmp_path / "o")]
    assert main([*argv, "--url", f"http://127.0.0.1:{port}", "--token", "abc"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"tlfseg label: error: Label Studio at http://127.0.0.1:{port}: POST /api/projects: ConnectionError"
    assert not (tmp_path / "o").exists()


def test_the_label_extra_is_plain_http_on_the_runtime():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert extras["label"] == ["tlfseg[edge]", "requests>=2.31"]  # not label-studio-sdk: its OpenCV pin clashes
    assert "label" in extras["dev"][0].split("[")[1]
