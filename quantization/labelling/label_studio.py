"""Label Studio's formats: the labelling interface, tasks with the model's band as pre-annotations, and the JSON
export read back into drawn bands.

The band is one polygon (PolygonLabels, label "fascia"): its upper boundary left to right, its lower boundary right
to left. Moving a boundary is dragging its vertices; Label Studio stores the points in percent of the image's width
and height, with the image's size beside them (``original_width``, ``original_height``).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

from quantization.labelling.geometry import band_outlines
from quantization.labelling.masks import Drawn, class_map

CONTROL = "band"  #: the PolygonLabels control's name
IMAGE = "image"  #: the Image object's name, and the task data field holding the image's URL
LABEL = "fascia"

LABEL_CONFIG = f"""<View>
  <Header value="Drag the vertices onto the upper and lower edge of the fascia; delete a polygon on another structure"/>
  <Header value="$note" size="6"/>
  <Image name="{IMAGE}" value="${IMAGE}" zoom="true" zoomControl="true"/>
  <PolygonLabels name="{CONTROL}" toName="{IMAGE}" strokeWidth="1" pointSize="small" opacity="0.25" snap="pixel">
    <Label value="{LABEL}" background="#FFD700"/>
  </PolygonLabels>
</View>
"""

DECIMALS = 4  #: of the percentages in a pre-annotation (1/10,000 %: a thousandth of a pixel on a 1,000-pixel frame)

#: an uploaded file's name on the server: 8 hex digits, a dash, the name it was uploaded with
_UPLOADED = re.compile(r"^[0-9a-f]{8}-")


def prediction_result(labels: np.ndarray) -> list[dict]:
    """A class map's fascia as Label Studio regions: one polygon per piece of the band (`band_outlines`)."""
    h, w = labels.shape
    return [
        {
            "id": f"band{k}",
            "from_name": CONTROL,
            "to_name": IMAGE,
            "type": "polygonlabels",
            "original_width": w,
            "original_height": h,
            "image_rotation": 0,
            "value": {
                "points": [[round(100 * x / w, DECIMALS), round(100 * y / h, DECIMALS)] for x, y in polygon.tolist()],
                "closed": True,
                "polygonlabels": [LABEL],
            },
        }
        for k, polygon in enumerate(band_outlines(labels))
    ]


def import_refusal(result: list[dict]) -> str | None:
    """Why `tlfseg label import` would refuse these regions (a prediction's) if the annotator submitted them as they
    are, in its words (two bands one above the other: "... keep the fascia, delete the other"); None where it would
    take them, or where there is no region (nothing to submit). The label check, which needs the image, is left out."""
    if not result:
        return None
    try:
        class_map(_drawn("", "", result).band(), None, check=False)
    except ValueError as exc:
        return str(exc)
    return None


def frame_name(data: dict) -> str:
    """The image file a task shows: its ``frame`` field (written by `tlfseg label export`), else the name in the image
    URL (a local file's ``?d=`` path, or an uploaded file's name less the server's prefix)."""
    if isinstance(data.get("frame"), str):
        return PurePosixPath(data["frame"]).name
    url = data.get(IMAGE)
    if not isinstance(url, str):
        raise ValueError(f"no image URL in the task's data field '{IMAGE}'")
    parsed = urlparse(url)
    name = PurePosixPath(unquote(parse_qs(parsed.query).get("d", [parsed.path])[0])).name
    return _UPLOADED.sub("", name) if parsed.path.startswith("/data/upload/") else name


def read_export(tasks: object) -> tuple[list[Drawn], list[str], int]:
    """A JSON export (a list of tasks) -> the drawn bands, the problems ("task N (frame): reason") and the number of
    tasks with no submitted annotation (not labelled: skipped). Of several annotations of a task, a ground truth wins,
    then the one updated last."""
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and isinstance(t.get("data"), dict) for t in tasks):
        raise ValueError("not a Label Studio JSON export (tasks with 'data'); export as 'JSON', not 'JSON-MIN'")
    drawn, problems, unlabelled = [], [], 0
    for task in tasks:
        where = name = f"task {task.get('id', '?')}"
        try:
            frame = frame_name(task["data"])
            where = f"{name} ({frame})"
            done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
            if not done:
                unlabelled += 1
                continue
            chosen = max(done, key=lambda a: (bool(a.get("ground_truth")), a.get("updated_at") or "", a.get("id", 0)))
            drawn.append(_drawn(name, frame, chosen.get("result") or []))
        except KeyError as exc:
            problems.append(f"{where}: missing {exc}")
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: {exc}")
    return drawn, problems, unlabelled


def _drawn(where: str, frame: str, result: list) -> Drawn:
    """An annotation's regions as one image's band: polygons labelled fascia, no other region."""
    if not result:
        raise ValueError("the annotation has no region: draw the band, or skip the task")
    sizes, polygons = set(), []
    for region in result:
        kind = region.get("type")
        if kind not in ("polygonlabels", "polygon"):
            raise ValueError(f"a '{kind}' region; only polygons of the band are read")
        value = region["value"]
        labels = value.get("polygonlabels", [LABEL])
        if labels != [LABEL]:
            raise ValueError(f"a polygon labelled {labels}; only '{LABEL}' is read")
        if region.get("image_rotation"):
            raise ValueError(f"drawn on the image rotated by {region['image_rotation']} degrees; rotate it back")
        w, h = int(region["original_width"]), int(region["original_height"])
        sizes.add((w, h))
        points = np.asarray(value["points"], float).reshape(-1, 2)
        if len(points) < 3:
            raise ValueError(f"a polygon of {len(points)} points")
        polygons.append(points * [w / 100, h / 100])
    if len(sizes) > 1:
        raise ValueError(f"regions drawn on images of different sizes {sorted(sizes)}")
    return Drawn(where, frame, sizes.pop(), tuple(polygons))
