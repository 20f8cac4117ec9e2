"""`tlfseg label import` of a Label Studio JSON export: the drawn polygons become exactly the drawn masks, anything
unusable is refused in one line naming the file and the task, and no existing mask is written over. (The export of a
real server is read in test_label_studio_server.py.)"""

import json

import cv2
import numpy as np
import pytest
from label_support import import_json, moved_truth, percent, phantom_frames, true_polygon

from edge.core.imagefiles import read_label_map
from edge.tools.cli import main


def region(polygon, size=(640, 480), kind="polygonlabels", **extra):
    w, h = size
    value = {"points": percent(polygon, w, h), "closed": True, "polygonlabels": ["fascia"]}
    return {
        "type": kind,
        "from_name": "band",
        "to_name": "image",
        "original_width": w,
        "original_height": h,
        "value": value,
        **extra,
    }


def task(tid, frame, *regions, cancelled=False, **annotation):
    data = {"image": f"/data/upload/1/0a1b2c3d-{frame}"}  # an uploaded file's name on the server
    done = {"id": tid * 10, "result": list(regions), "was_cancelled": cancelled, **annotation}
    return {"id": tid, "data": data, "annotations": [done]}


def test_drawn_polygons_become_exactly_the_drawn_masks(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    tasks = [
        task(1, "f0.png", region(true_polygon(truth["f0.png"]))),
        task(2, "f1.png", region(true_polygon(truth["f1.png"], move_upper=3))),
    ]
    assert import_json(tmp_path, tasks, "export.json", folder) == 0
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f0.png"), truth["f0.png"])
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f1.png"), moved_truth(truth["f1.png"], 3))
    assert "Label Studio export, 2 labelled, 0 not labelled" in capsys.readouterr().out


def test_a_ground_truth_annotation_wins_and_unlabelled_tasks_are_skipped(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    labelled = task(1, "f0.png", region(true_polygon(truth["f0.png"], move_upper=2)), ground_truth=True)
    later = {"id": 99, "result": [region(true_polygon(truth["f0.png"]))], "updated_at": "2099-01-01T00:00:00Z"}
    labelled["annotations"].append(later)
    skipped = task(2, "f1.png", region(true_polygon(truth["f1.png"])), cancelled=True)
    untouched = {"id": 3, "data": {"frame": "f1.png", "image": "/data/local-files/?d=frames/f1.png"}, "annotations": []}
    assert import_json(tmp_path, [labelled, skipped, untouched], "export.json", folder) == 0
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f0.png"), moved_truth(truth["f0.png"], 2))
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["f0.png"]
    assert "1 labelled, 2 not labelled (skipped)" in capsys.readouterr().out


def test_unusable_annotations_are_refused_one_line_each_naming_file_and_task(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    good = true_polygon(truth["f0.png"])
    far_above = good - [0, 40]  # the band drawn 40 rows above the bright band it marks
    second = good + [0, 200]
    tasks = [
        task(1, "f0.png", region(good, size=(320, 240))),
        task(2, "f0.png", region(good, kind="rectanglelabels")),
        task(3, "f0.png", region(good), region(second)),
        task(4, "f0.png", region(far_above)),
        task(5, "f0.png", region(good, image_rotation=90)),
        task(6, "gone.png", region(good)),
        task(7, "f0.png"),
        {"id": 8, "data": {"text": "no image"}, "annotations": []},
        task(9, "f1.png", {**region(good), "value": {"points": [[1, 2], [3, 4]], "polygonlabels": ["fascia"]}}),
        task(10, "f1.png", {**region(good), "value": {"points": percent(good, 640, 480), "polygonlabels": ["muscle"]}}),
        task(11, "f1.png", {k: v for k, v in region(good).items() if k != "original_width"}),
    ]
    assert import_json(tmp_path, tasks, "export.json", folder) == 1
    err = capsys.readouterr().err.strip().splitlines()
    expected = {
        1: "task 1 (f0.png): drawn on a 320x240 image, f0.png is 640x480",
        2: "task 2 (f0.png): a 'rectanglelabels' region; only polygons of the band are read",
        3: "task 3 (f0.png): two bands one above the other in 400 columns (x 110 to 509)",
        4: "task 4 (f0.png): the labelled band lies",
        5: "task 5 (f0.png): drawn on the image rotated by 90 degrees",
        6: f"task 6 (gone.png): no such image in {folder}",
        7: "task 7 (f0.png): the annotation has no region",
        8: "task 8: no image URL in the task's data field 'image'",
        9: "task 9 (f1.png): a polygon of 2 points",
        10: "task 10 (f1.png): a polygon labelled ['muscle']; only 'fascia' is read",
        11: "task 11 (f1.png): missing 'original_width'",
    }
    assert len(err) == len(expected)
    for line in expected.values():
        assert any(e.startswith(f"export.json: {line}") for e in err), (line, err)
    assert not (tmp_path / "masks" / "f0.png").exists()


def test_the_label_check_can_be_turned_off(phantom, tmp_path):
    folder, truth = phantom_frames(phantom, tmp_path)
    tasks = [task(4, "f0.png", region(true_polygon(truth["f0.png"]) - [0, 40]))]
    assert import_json(tmp_path, tasks, "export.json", folder, "--no-label-check") == 0
    assert (read_label_map(tmp_path / "masks" / "f0.png") == 1).any()


def test_an_existing_mask_is_never_written_over(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    (tmp_path / "masks").mkdir()
    mine = np.full((480, 640), 2, np.uint8)
    cv2.imwrite(str(tmp_path / "masks" / "f0.png"), mine)
    tasks = [
        task(1, "f0.png", region(true_polygon(truth["f0.png"]))),
        task(2, "f1.png", region(true_polygon(truth["f1.png"]))),
    ]
    assert import_json(tmp_path, tasks, "export.json", folder) == 1
    assert np.array_equal(cv2.imread(str(tmp_path / "masks" / "f0.png"), cv2.IMREAD_UNCHANGED), mine)
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f1.png"), truth["f1.png"])
    assert (
        f"export.json: task 1 (f0.png): {tmp_path / 'masks' / 'f0.png'} exists; not written over"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "export.json: not JSON"),
        (json.dumps([{"image": "/data/upload/1/x.png", "id": 1, "band": []}]), "export.json: not a Label Studio JSON"),
        (json.dumps({"images": []}), "export.json: neither a Label Studio JSON export (a list of tasks) nor COCO JSON"),
    ],
)
def test_files_that_are_no_export_are_refused_in_one_line(phantom, tmp_path, capsys, content, message):
    folder, _ = phantom_frames(phantom, tmp_path)
    export = tmp_path / "export.json"
    export.write_text(content)
    assert main(["label", "import", str(export), "--images", str(folder), "--out", str(tmp_path / "m")]) == 1
    assert message in capsys.readouterr().err


def test_masks_are_not_written_into_the_image_folder(phantom, tmp_path, capsys):
    folder, _ = phantom_frames(phantom, tmp_path)
    (tmp_path / "e.json").write_text("[]")
    assert main(["label", "import", str(tmp_path / "e.json"), "--images", str(folder), "--out", str(folder)]) == 1
    assert "is the image folder" in capsys.readouterr().err
