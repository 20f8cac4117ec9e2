"""`tlfseg label import` of COCO JSON as CVAT exports it ("COCO 1.0"): band polygons, or the band as an
uncompressed run-length mask, become exactly the drawn masks."""

import numpy as np
from label_support import import_json, moved_truth, phantom_frames, true_polygon

from edge.core.imagefiles import read_label_map
from edge.core.labels import FASCIA


def coco(images, annotations, categories=("fascia",)):
    """A COCO document shaped as CVAT writes it."""
    return {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""},
        "categories": [{"id": i, "name": n, "supercategory": ""} for i, n in enumerate(categories, 1)],
        "images": [
            {
                "id": i,
                "width": 640,
                "height": 480,
                "file_name": f"frames/{name}",
                "license": 0,
                "flickr_url": "",
                "coco_url": "",
                "date_captured": 0,
            }
            for i, name in enumerate(images, 1)
        ],
        "annotations": annotations,
    }


def polygon_annotation(aid, image_id, polygon, category=1):
    x0, y0 = polygon.min(axis=0)
    x1, y1 = polygon.max(axis=0)
    return {
        "id": aid,
        "image_id": image_id,
        "category_id": category,
        "segmentation": [polygon.ravel().tolist()],
        "area": 0.0,
        "bbox": [x0, y0, x1 - x0, y1 - y0],
        "iscrowd": 0,
        "attributes": {"occluded": False},
    }


def rle_annotation(aid, image_id, band, category=1):
    """CVAT's mask: uncompressed run lengths down the columns, zeros first."""
    flat = band.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
    counts = np.diff(np.r_[0, edges]).tolist()
    return {
        "id": aid,
        "image_id": image_id,
        "category_id": category,
        "iscrowd": 1,
        "segmentation": {"counts": counts, "size": list(band.shape)},
        "area": 0.0,
        "bbox": [0, 0, 0, 0],
    }


def test_cvat_polygons_and_masks_become_exactly_the_drawn_masks(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    doc = coco(
        ["f0.png", "f1.png", "unlabelled.png"],
        [
            polygon_annotation(1, 1, true_polygon(truth["f0.png"], move_upper=4)),
            rle_annotation(2, 2, truth["f1.png"] == FASCIA),
        ],
    )
    assert import_json(tmp_path, doc, "annotations.json", folder) == 0
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f0.png"), moved_truth(truth["f0.png"], 4))
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f1.png"), truth["f1.png"])
    assert "annotations.json: COCO, 2 labelled, 1 not labelled (skipped)" in capsys.readouterr().out


def test_the_band_category_is_found_by_name_or_named_with_category(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    annotations = [
        polygon_annotation(1, 1, true_polygon(truth["f0.png"]), category=2),
        polygon_annotation(2, 1, true_polygon(truth["f0.png"]) + [0, 100], category=1),  # another structure
    ]
    assert import_json(tmp_path, coco(["f0.png"], annotations, ("muscle", "Fascia")), "annotations.json", folder) == 0
    assert np.array_equal(read_label_map(tmp_path / "masks" / "f0.png"), truth["f0.png"])

    doc = coco(["f0.png"], annotations, ("muscle", "TLF"))
    assert import_json(tmp_path, doc, "annotations.json", folder) == 1
    assert "annotations.json: no single category 'fascia' (categories: TLF, muscle)" in capsys.readouterr().err
    (tmp_path / "masks" / "f0.png").unlink()
    assert import_json(tmp_path, doc, "annotations.json", folder, "--category", "tlf") == 0


def test_unusable_coco_annotations_are_refused_naming_file_and_image(phantom, tmp_path, capsys):
    folder, truth = phantom_frames(phantom, tmp_path)
    band = truth["f0.png"] == FASCIA
    compressed = {**rle_annotation(3, 3, band), "segmentation": {"counts": "abc", "size": [480, 640]}}
    short = {**rle_annotation(4, 4, band[:, :320]), "image_id": 4}
    doc = coco(
        ["f0.png", "f1.png", "f0.png", "f1.png", "missing.png"],
        [
            {**polygon_annotation(1, 1, true_polygon(truth["f0.png"])), "segmentation": [[1, 2, 3, 4]]},
            {**polygon_annotation(2, 2, true_polygon(truth["f1.png"])), "segmentation": []},
            compressed,
            short,
            polygon_annotation(5, 5, true_polygon(truth["f0.png"])),
        ],
    )
    assert import_json(tmp_path, doc, "annotations.json", folder) == 1
    err = capsys.readouterr().err
    for line in (
        "annotations.json: image 1 (f0.png): annotation 1: a polygon of 4 numbers (x, y pairs, 3 or more)",
        "annotations.json: image 2 (f1.png): annotation 2: no polygon",
        "annotations.json: image 3 (f0.png): a compressed run-length mask; export polygons",
        "annotations.json: image 4 (f1.png): a run-length mask of 320x480 on a 640x480 image",
        f"annotations.json: image 5 (missing.png): no such image in {folder}",
    ):
        assert line in err, err
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())
