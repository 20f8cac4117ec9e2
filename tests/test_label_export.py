"""`tlfseg label export` without a server: the model's band on each frame as Label Studio polygons in tasks.json,
the labelling interface beside it, nothing written over; why a live session kept each frame (its index.json beside
the frames) and what import would refuse in the model's band, in each task. (Into a real server:
test_label_studio_server.py.)"""

import json
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from label_support import phantom_frames
from live_support import SMALL_ROI, small_phantom

from edge.core.labels import FASCIA
from edge.core.roi import Box
from edge.tools.cli import main
from quantization.labelling.export import export_frames
from quantization.labelling.geometry import rasterize
from quantization.labelling.label_studio import LABEL_CONFIG, import_refusal, prediction_result
from quantization.labelling.masks import class_map


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


def saved_session(tmp_path: Path) -> Path:
    """`tlfseg run --save-frames` over a small phantom stream whose every other frame is blank (flagged): the folder
    it kept them in (``frames/`` and ``index.json``)."""
    shots = tmp_path / "shots"
    shots.mkdir()
    phantom = small_phantom()
    for i in range(20):
        image = phantom.frame(i).image if i % 2 else np.zeros_like(phantom.frame(0).image)
        cv2.imwrite(str(shots / f"f{i:03d}.png"), image)
    argv = ["run", "--source", str(shots), "--every-frame", "--no-display", "--status-every", "0", "--fps", "10"]
    roi = f"{SMALL_ROI.x},{SMALL_ROI.y},{SMALL_ROI.w},{SMALL_ROI.h}"
    assert main([*argv, "--roi", roi, "--save-frames", str(tmp_path / "session"), "--save-frames-max", "6"]) == 0
    return tmp_path / "session"


def test_why_a_live_session_kept_each_frame_goes_into_its_task(tmp_path, capsys):
    session = saved_session(tmp_path)
    index = json.loads((session / "index.json").read_text())
    flagged = next(r for r in index["frames"] if r["kept"] == "flagged")
    flagged["flags"].insert(0, "jump")  # a flag only a stream raises: carried from the session, not found on the still
    (session / "index.json").write_text(json.dumps(index))
    cv2.imwrite(
        str(session / "frames" / "mine.png"), small_phantom().frame(5).image
    )  # a frame the session did not keep
    capsys.readouterr()
    assert main(["label", "export", "--images", str(session / "frames"), "--out", str(tmp_path / "ls")]) == 0
    out = capsys.readouterr().out
    tasks = {t["data"]["frame"]: t["data"] for t in json.loads((tmp_path / "ls" / "tasks.json").read_text())}
    records = {Path(r["file"]).name: r for r in index["frames"]}
    assert sorted(tasks) == sorted([*records, "mine.png"]) and {r["kept"] for r in records.values()} == {
        "flagged",
        "sample",
    }
    assert f"{(session / 'index.json').resolve()}: why a live session kept {len(records)} of the {len(tasks)}" in out
    lines = {line.split(": ")[0].split("] ")[1]: line for line in out.splitlines() if line.startswith("[")}
    for name, record in records.items():
        why = record["kept"] + (f" ({', '.join(record['flags'])})" if record["flags"] else "")
        assert (tasks[name]["kept"], tasks[name]["live_flags"]) == (record["kept"], ", ".join(record["flags"]))
        assert tasks[name]["note"] == f"kept by the live session: {why}; as a still: {tasks[name]['flags']}"
        assert lines[name].endswith(f"; kept: {why}")
    jumped = tasks[Path(flagged["file"]).name]
    assert jumped["live_flags"].startswith("jump, ") and "jump" not in jumped["flags"]
    assert (tasks["mine.png"]["kept"], tasks["mine.png"]["live_flags"]) == ("", "")
    assert tasks["mine.png"]["note"] == "as a still: good" and "kept" not in lines["mine.png"]
    assert '<Header value="$note"' in LABEL_CONFIG  # the note above the image in Label Studio


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not JSON: Expecting property name"),
        (b"\xff\xfe\x00", "not JSON: "),
        (b'{"images": [], "annotations": [], "categories": []}', "not an index of saved frames (no list of 'frames')"),
        (b'{"frames": [{"file": "frames/f0.png", "kept": "because"}]}', "not an index of saved frames (frame 1 lacks"),
    ],
    ids=["broken", "binary", "another-tools", "no-reason"],
)
def test_an_index_beside_the_frames_that_cannot_be_read_is_named_and_set_aside(phantom, tmp_path, capsys, content, why):
    folder, _ = phantom_frames(phantom, tmp_path)
    (tmp_path / "index.json").write_bytes(content)
    assert main(["label", "export", "--images", str(folder), "--out", str(tmp_path / "ls")]) == 0
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert [(t["data"]["frame"], t["data"]["kept"]) for t in tasks] == [("f0.png", ""), ("f1.png", "")]
    captured = capsys.readouterr()
    (notice,) = [line for line in captured.err.splitlines() if "index.json" in line]
    assert notice.startswith(f"{(tmp_path / 'index.json').resolve()}: {why}")
    assert notice.endswith("; the frames are exported without the live session's reasons")
    assert "Traceback" not in captured.err and "why a live session kept" not in captured.out


def stacked_band() -> np.ndarray:
    """A class map whose fascia has two pieces, one above the other in the 20 columns 40..59."""
    labels = np.zeros((60, 80), np.uint8)
    labels[10:14, 5:60] = FASCIA
    labels[30:34, 40:75] = FASCIA
    return labels


STACKED = "two bands one above the other in 20 columns (x 40 to 59): keep the fascia, delete the other"


def test_what_import_would_refuse_in_the_models_band_is_said_in_its_own_words():
    result = prediction_result(stacked_band())
    assert len(result) == 2
    with pytest.raises(ValueError, match="two bands one above the other") as refused:
        class_map(drawn_band(result), None, check=False)  # import's check of the band, submitted as it is
    assert import_refusal(result) == str(refused.value) == STACKED
    side_by_side = stacked_band()
    side_by_side[30:34, 40:60] = 0
    assert import_refusal(prediction_result(side_by_side)) is None  # two pieces side by side: one band
    assert import_refusal([]) is None  # nothing to submit


class StackedModel:
    """The pipeline, stubbed: every frame segmented as `stacked_band`, no flag raised."""

    engine = SimpleNamespace(model_path=Path("model.tflite"))

    def __call__(self, image: np.ndarray) -> SimpleNamespace:
        labels = stacked_band()
        return SimpleNamespace(frame_shape=labels.shape, roi=Box(0, 0, 80, 60), roi_labels=labels, flags=())


def test_a_frame_whose_band_import_would_refuse_is_named_up_front(tmp_path):
    (tmp_path / "frames").mkdir()
    cv2.imwrite(str(tmp_path / "frames" / "f.png"), np.zeros((60, 80), np.uint8))
    lines = []
    export_frames(StackedModel(), [tmp_path / "frames" / "f.png"], tmp_path / "ls", tmp_path, log=lines.append)
    assert lines == [f"[1/1] f.png: 2 band polygon(s), good; import refuses the model's band as it is: {STACKED}"]
    (task,) = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert task["data"]["warning"] == STACKED
    assert task["data"]["note"] == f"as a still: good; import refuses the model's band as it is: {STACKED}"


def test_a_real_capture_whose_band_import_would_refuse_is_named_up_front(real_data_dir, tmp_path, capsys):
    """img_00014.png of the shared set: the bundled model's band has a second piece above it, which import refuses;
    the runtime calls the frame good. (Another bundled model may well segment it in one piece.)"""
    (tmp_path / "frames").mkdir()
    shutil.copy(real_data_dir / "images" / "img_00014.png", tmp_path / "frames")
    assert main(["label", "export", "--images", str(tmp_path / "frames"), "--out", str(tmp_path / "ls")]) == 0
    line = "two bands one above the other in 34 columns (x 341 to 374): keep the fascia, delete the other"
    assert f"img_00014.png: 2 band polygon(s), good; import refuses the model's band as it is: {line}" in (
        capsys.readouterr().out
    )


def test_the_label_extra_is_plain_http_on_the_runtime():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert extras["label"] == ["tlfseg[edge]", "requests>=2.31"]  # not label-studio-sdk: its OpenCV pin clashes
    assert "label" in extras["dev"][0].split("[")[1]
