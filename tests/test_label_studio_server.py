"""`tlfseg label` against a real Label Studio server on loopback: the frames exported into a new project with the
model's band as pre-annotations, an annotator's corrections submitted through the API, the project's JSON export read
back into exactly the masks drawn; and tasks.json imported by hand, its images served as local files.

The server is the `label-studio` of .ci/run's own virtual environment (.venv-labelstudio, or $TLFSEG_LABEL_STUDIO),
started once for this module on a free port of 127.0.0.1 with a fresh database (about 80 s of migrations on 2 cores),
waited for at most `START_S`, and ended with its process group; skipped, with the reason, where it is not installed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
from label_support import moved_truth, percent, true_polygon, write_frames

from edge.core.imagefiles import read_label_map
from edge.core.labels import band_mask_to_classes
from edge.tools.cli import main
from quantization.labelling.client import LabelStudio
from quantization.labelling.geometry import rasterize

ROOT = Path(__file__).resolve().parents[1]
LABEL_STUDIO = Path(os.environ.get("TLFSEG_LABEL_STUDIO", ROOT / ".venv-labelstudio" / "bin" / "label-studio"))
START_S = 300  #: at most this long for the server to answer (a fresh database: about 80 s on 2 cores)
STOP_S = 20  #: after SIGTERM, this long before SIGKILL


@dataclass
class Server:
    url: str
    api: LabelStudio  #: signed in with the legacy API token the server was started with
    files: Path  #: its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Label Studio exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"Label Studio did not answer within {START_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not LABEL_STUDIO.is_file():
        pytest.skip(
            f"Label Studio is not installed at {LABEL_STUDIO} (.ci/run installs it; or set TLFSEG_LABEL_STUDIO)"
        )
    home = tmp_path_factory.mktemp("label-studio")
    files = home / "files"
    files.mkdir()
    port, token = free_port(), secrets.token_hex(20)
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(home / "data"),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files),
        "SENTRY_DSN": "",  # no error reporting, no version check, no analytics: nothing leaves the machine
        "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
    }
    command = [str(LABEL_STUDIO), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(home / "data"), "--username", "annotator@example.com", "--password", token]
    command += ["--user-token", token, "--enable-legacy-api-token", "--log-level", "WARNING"]
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield Server(url, LabelStudio(url, token), files)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_S)


def polygon_region(polygon: np.ndarray) -> dict:
    value = {"points": percent(polygon, 640, 480), "closed": True, "polygonlabels": ["fascia"]}
    return {
        "from_name": "band",
        "to_name": "image",
        "type": "polygonlabels",
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0,
        "value": value,
    }


def test_export_correct_and_import_back_the_masks_drawn(server, phantom, tmp_path, capsys):
    frames = server.files / "round-trip"
    truth = write_frames(phantom, frames)
    token = server.api.request("POST", "/api/token/")["token"]  # a personal access token, as a user copies it
    out = tmp_path / "ls"
    argv = ["label", "export", "--images", str(frames), "--out", str(out), "--url", server.url, "--token", token]
    assert main([*argv, "--project", "TLF round trip"]) == 0
    record = json.loads((out / "project.json").read_text())
    assert f"{server.url}/projects/{record['project']}/data" in capsys.readouterr().out
    ids = record["tasks"]
    assert sorted(ids) == ["f0.png", "f1.png"]

    # on the server: each frame uploaded as a task, the model's band as its prediction (what tasks.json holds too)
    written = {t["data"]["frame"]: t for t in json.loads((out / "tasks.json").read_text())}
    predicted = {}
    for name, task_id in ids.items():
        task = server.api.request("GET", f"/api/tasks/{task_id}")
        assert task["data"]["image"].startswith("/data/upload/")
        assert {**task["data"], "image": ""} == {**written[name]["data"], "image": ""}  # frame, flags, note, ...
        (prediction,) = server.api.request("GET", "/api/predictions", params={"task": task_id})
        assert prediction["result"] == written[name]["predictions"][0]["result"]
        (region,) = prediction["result"]
        predicted[name] = np.array(region["value"]["points"]) * [640 / 100, 480 / 100]

    # the annotator puts f0's band onto the true band, and drags the upper boundary of the model's band on f1 down 3 px
    dragged = predicted["f1.png"].copy()
    split = int(np.argmax(dragged[:, 0] == dragged[:, 0].max())) + 1  # the upper boundary ends at the right edge
    dragged[:split, 1] += 3
    for name, polygon in (("f0.png", true_polygon(truth["f0.png"])), ("f1.png", dragged)):
        server.api.request("POST", f"/api/tasks/{ids[name]}/annotations", json={"result": [polygon_region(polygon)]})

    export = server.api.request("GET", f"/api/projects/{record['project']}/export", params={"exportType": "JSON"})
    (tmp_path / "export.json").write_text(json.dumps(export))
    masks = tmp_path / "masks"
    assert main(["label", "import", str(tmp_path / "export.json"), "--images", str(frames), "--out", str(masks)]) == 0
    assert np.array_equal(read_label_map(masks / "f0.png"), truth["f0.png"])
    model_band = band_mask_to_classes(rasterize([predicted["f1.png"]], (480, 640)).astype(np.uint8))
    assert np.array_equal(read_label_map(masks / "f1.png"), moved_truth(model_band, 3))


def test_tasks_json_imports_by_hand_with_the_images_as_local_files(server, phantom, tmp_path):
    frames = server.files / "by-hand"
    write_frames(phantom, frames, count=1)
    out = tmp_path / "ls"
    assert main(["label", "export", "--images", str(frames), "--out", str(out), "--files-root", str(server.files)]) == 0
    project = server.api.create_project("by hand", (out / "label_config.xml").read_text())
    storage = {"project": project, "path": str(frames), "use_blob_urls": True, "title": "frames"}
    server.api.request("POST", "/api/storages/localfiles", json=storage)
    tasks = json.loads((out / "tasks.json").read_text())
    done = server.api.request("POST", f"/api/projects/{project}/import", json=tasks)
    assert (done["task_count"], done["prediction_count"]) == (1, 1)
    (task,) = server.api.request("GET", "/api/tasks", params={"project": project})["tasks"]
    image = server.api.session.get(server.url + task["data"]["image"], timeout=10)
    assert image.status_code == 200 and image.content == (frames / "f0.png").read_bytes()


def test_a_wrong_token_is_one_line(server, phantom, tmp_path, capsys):
    write_frames(phantom, tmp_path / "frames", count=1)
    argv = ["label", "export", "--images", str(tmp_path / "frames"), "--out", str(tmp_path / "o"), "--url", server.url]
    assert main([*argv, "--token", "0" * 40]) == 1
    assert capsys.readouterr().err.strip() == (
        f"tlfseg label: error: Label Studio at {server.url}: POST /api/projects: HTTP 401: Invalid token."
    )
