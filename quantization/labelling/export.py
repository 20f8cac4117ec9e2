"""A folder of frames -> Label Studio tasks, the model's band (the bundled int8 model through edge's pipeline, at
each frame's native size) as the pre-annotation: written as files to import by hand and, given a server, made into a
project there.

Each task's data says what is known of its frame: the runtime's flags on it as a still (``flags``), why a live
session kept it where `tlfseg run --save-frames` wrote the folder (``kept``, ``live_flags``: from the index beside
it; a stream's flags such as ``jump`` cannot be raised on a still), what `tlfseg label import` would refuse in the
model's band submitted as it is (``warning``), and all of it in one line shown above the image (``note``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np

from edge.core.imagefiles import ImageFileError, read_image
from edge.live.pipeline import FramePipeline, FrameResult
from edge.live.sinks.saved_frames import SaveFramesSink, read_index
from quantization.labelling.client import LabelStudio
from quantization.labelling.label_studio import IMAGE, LABEL_CONFIG, import_refusal, prediction_result

TASKS = "tasks.json"  #: the tasks with their pre-annotations, images as Label Studio local files
CONFIG = "label_config.xml"  #: the labelling interface
PROJECT = "project.json"  #: with a server: where the project is, and each frame's task id
REFUSED = "import refuses the model's band as it is"  #: before the reason, in the progress line and the task's note


def local_url(image: Path, root: Path) -> str:
    """The URL Label Studio serves `image` under when its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT is `root`."""
    return "/data/local-files/?d=" + quote(image.resolve().relative_to(root.resolve()).as_posix())


def _in_roi(seg: FrameResult) -> np.ndarray:
    """The frame's class map with the model's band only inside the B-mode area (`FrameResult.labels` carries the
    area's edge rows and columns out to the frame's edges)."""
    labels = np.zeros(seg.frame_shape, np.uint8)
    labels[seg.roi.y : seg.roi.y + seg.roi.h, seg.roi.x : seg.roi.x + seg.roi.w] = seg.roi_labels
    return labels


def session_reasons(images: Path) -> tuple[Path, dict[Path, dict], str | None]:
    """Why a live session kept the frames of `images`: the index `tlfseg run --save-frames` wrote beside the folder
    (``DIR/index.json`` for ``DIR/frames``), its records by the frame's resolved path (none without the file), and
    why the file was left aside when it is there but no such index (one line naming it; None when it was read). The
    index's path is given as `images` is: relative to the working directory, or absolute."""
    index = images.resolve().parent / SaveFramesSink.INDEX
    named = index if images.is_absolute() else Path(os.path.relpath(index))
    if not index.is_file():
        return named, {}, None
    try:
        return named, read_index(index), None
    except (ValueError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return named, {}, f"{named}: {why}; the frames are exported without the live session's reasons"


def task_data(frame: str, flags: Sequence[str], kept: dict | None, warning: str | None) -> dict:
    """A task's data beside its image: the fields named in the module's docstring, "" where nothing is known."""
    data = {
        "frame": frame,
        "flags": ", ".join(flags) or "good",
        "kept": kept["kept"] if kept else "",
        "live_flags": ", ".join(kept["flags"]) if kept else "",
        "warning": warning or "",
    }
    note = [f"kept by the live session: {why_kept(data)}"] if kept else []
    note.append(f"as a still: {data['flags']}")
    if warning:
        note.append(f"{REFUSED}: {warning}")
    return {**data, "note": "; ".join(note)}


def why_kept(data: dict) -> str:
    """A task's ``kept`` with its ``live_flags``: "flagged (jump)", "sample"."""
    return data["kept"] + (f" ({data['live_flags']})" if data["live_flags"] else "")


def export_frames(
    pipeline: FramePipeline,
    images: list[Path],
    out: Path,
    files_root: Path,
    server: LabelStudio | None = None,
    title: str = "",
    log: Callable[[str], None] = print,
    kept: dict[Path, dict] | None = None,
) -> tuple[int, list[str], int | None]:
    """Segment `images` into ``out/tasks.json`` and ``out/label_config.xml`` (and, with `server`, a new project titled
    `title` holding them, recorded in ``out/project.json``); returns the tasks made, the frames that failed
    ("<file>: <reason>") and the project's id. `kept`: why a live session kept each frame, by its resolved path
    (`session_reasons`). Files already in `out` are not written over: nothing is done then."""
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
        data = task_data(path.name, seg.flags, (kept or {}).get(path.resolve()), import_refusal(result))
        prediction = {"model_version": version, "result": result}
        tasks.append({"data": {IMAGE: local_url(path, files_root), **data}, "predictions": [prediction]})
        line = f"[{i}/{len(images)}] {path.name}: {len(result)} band polygon(s), {data['flags']}"
        if server:
            task_ids[path.name] = server.add_frame(project, path, data, result, version)
            line += f", task {task_ids[path.name]}"
        if data["kept"]:
            line += f"; kept: {why_kept(data)}"
        if data["warning"]:
            line += f"; {REFUSED}: {data['warning']}"
        log(line)
    out.mkdir(parents=True, exist_ok=True)
    (out / TASKS).write_text(json.dumps(tasks, indent=1) + "\n")
    (out / CONFIG).write_text(LABEL_CONFIG)
    if server:
        record = {"url": server.url, "project": project, "title": title, "tasks": task_ids}
        (out / PROJECT).write_text(json.dumps(record, indent=1) + "\n")
    return len(tasks), failed, project
