"""A folder of frames -> Label Studio tasks, the model's band (the bundled int8 model through edge's pipeline, at
each frame's native size) as the pre-annotation: written as files to import by hand and, given a server, made into a
project there."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np

from edge.core.imagefiles import ImageFileError, read_image
from edge.live.pipeline import FramePipeline, FrameResult
from quantization.labelling.client import LabelStudio
from quantization.labelling.label_studio import IMAGE, LABEL_CONFIG, prediction_result

TASKS = "tasks.json"  #: the tasks with their pre-annotations, images as Label Studio local files
CONFIG = "label_config.xml"  #: the labelling interface
PROJECT = "project.json"  #: with a server: where the project is, and each frame's task id


def local_url(image: Path, root: Path) -> str:
    """The URL Label Studio serves `image` under when its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT is `root`."""
    return "/data/local-files/?d=" + quote(image.resolve().relative_to(root.resolve()).as_posix())


def _in_roi(seg: FrameResult) -> np.ndarray:
    """The frame's class map with the model's band only inside the B-mode area (`FrameResult.labels` carries the
    area's edge rows and columns out to the frame's edges)."""
    labels = np.zeros(seg.frame_shape, np.uint8)
    labels[seg.roi.y : seg.roi.y + seg.roi.h, seg.roi.x : seg.roi.x + seg.roi.w] = seg.roi_labels
    return labels


def export_frames(
    pipeline: FramePipeline,
    images: list[Path],
    out: Path,
    files_root: Path,
    server: LabelStudio | None = None,
    title: str = "",
    log: Callable[[str], None] = print,
) -> tuple[int, list[str], int | None]:
    """Segment `images` into ``out/tasks.json`` and ``out/label_config.xml`` (and, with `server`, a new project titled
    `title` holding them, recorded in ``out/project.json``); returns the tasks made, the frames that failed
    ("<file>: <reason>") and the project's id. Files already in `out` are not written over: nothing is done then."""
    outputs = [out / TASKS, out / CONFIG] + ([out / PROJECT] if server else [])
    for path in outputs:
        if path.exists():
            raise FileExistsError(f"{path} exists; not written over (choose another --out)")
    version = pipeline.engine.model_path.name
    project = server.create_project(title, LABEL_CONFIG, version) if server else None
    tasks, task_ids, failed = [], {}, []
    for i, path in enumerate(images, 1):
        try:
            seg = pipeline(read_image(path))
        except (ValueError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ImageFileError) else str(exc)
            failed.append(f"{path.name}: {reason}")
            log(f"[{i}/{len(images)}] {path.name}: FAILED: {reason}")
            continue
        result = prediction_result(_in_roi(seg))
        data = {"frame": path.name, "flags": ", ".join(seg.flags) or "good"}
        prediction = {"model_version": version, "result": result}
        tasks.append({"data": {IMAGE: local_url(path, files_root), **data}, "predictions": [prediction]})
        line = f"[{i}/{len(images)}] {path.name}: {len(result)} band polygon(s), {data['flags']}"
        if server:
            task_ids[path.name] = server.add_frame(project, path, data, result, version)
            line += f", task {task_ids[path.name]}"
        log(line)
    out.mkdir(parents=True, exist_ok=True)
    (out / TASKS).write_text(json.dumps(tasks, indent=1) + "\n")
    (out / CONFIG).write_text(LABEL_CONFIG)
    if server:
        record = {"url": server.url, "project": project, "title": title, "tasks": task_ids}
        (out / PROJECT).write_text(json.dumps(record, indent=1) + "\n")
    return len(tasks), failed, project
