"""`tlfseg predict`: segment a folder of images, write label maps (and overlays), optionally score them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.tools.commands import add_model_options, add_roi_option, parse_roi


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="segment a folder of images into 0/1/2 label maps (optionally scored against masks)",
        description=(
            "Segment every image in a folder, not its subfolders (png/jpg/bmp/tif; 8-bit grey, BGR or BGRA) "
            "and write OUT/<stem>.png: a label map at the image's size, 0 = above, 1 = fascia, 2 = below. "
            "Prints per-stage latency against the paper's 43 s for 87 images and writes OUT/predict.json."
        ),
    )
    add_model_options(p)
    p.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder of images to segment")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where label maps and predict.json go")
    p.add_argument("--overlays", action="store_true", help="also write OUT/overlays/<stem>.png pictures")
    add_roi_option(p, "detected per image")
    p.add_argument("--masks", type=Path, default=None, metavar="DIR", help="reference masks (same stems) to score")
    p.add_argument(
        "--band-masks",
        action="store_true",
        help="masks are binary band masks (non-zero = band), converted column by column; "
        "default: masks hold class ids 0/1/2 (255 = ignore)",
    )
    p.add_argument(
        "--no-label-check",
        dest="label_check",
        action="store_false",
        help="score masks that do not sit on their image too (default: listed as not scored, with the reason)",
    )
    p.set_defaults(handler=run)


def _check_folders(args: argparse.Namespace) -> None:
    from edge.tools.errors import CommandError

    out = args.out.resolve()
    if out == args.images.resolve():
        raise CommandError(f"--out {args.out} is the image folder; label maps would overwrite the images")
    if args.masks is not None and out == args.masks.resolve():
        raise CommandError(f"--out {args.out} is the mask folder; label maps would overwrite the masks")
    if args.band_masks and args.masks is None:
        raise CommandError("--band-masks needs --masks DIR")


def run(args: argparse.Namespace) -> int:
    from edge.core.imagefiles import IMAGE_SUFFIXES, list_images
    from edge.live.pipeline import FramePipeline
    from edge.tools.errors import CommandError
    from edge.tools.predict import MaskSet, format_identity, format_scores, predict_folder

    _check_folders(args)
    images = list_images(args.images)
    if not images:
        raise CommandError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {args.images}")
    roi = parse_roi(args.roi)
    masks = MaskSet(args.masks, band=args.band_masks, check=args.label_check) if args.masks is not None else None
    if masks is not None and not masks.by_stem:
        raise CommandError(f"no masks ({', '.join(IMAGE_SUFFIXES)}) in {args.masks}")
    pipeline = FramePipeline(args.model, roi, video=False, threads=args.threads, delegate=args.delegate)
    engine = pipeline.engine
    print(f"model: {engine.describe()}")
    print(f"images: {pipeline.describe_reference()}")
    scoring = f", scored against {args.masks}" if masks else ""
    print(f"{len(images)} images from {args.images} -> {args.out}{scoring}")

    result = predict_folder(pipeline, images, args.out, overlays=args.overlays, masks=masks)

    report = {
        "model": engine.describe(),
        "model_path": str(engine.model_path),
        "precision": engine.precision,
        "backend": engine.backend,
        "threads": args.threads,
        "delegate": args.delegate,
        "input_size": list(engine.input_size),
        "images_dir": str(args.images),
        "roi": str(roi) if roi else "auto",
        "masks": None if masks is None else {"dir": str(args.masks), "band_masks": args.band_masks},
        **result.to_json(),
    }
    (args.out / "predict.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")

    print()
    if len(result.latency):
        print(result.latency.table())
    if masks is not None:
        if result.unscored:
            print(f"{len(result.unscored)} images not scored:")
            for u in result.unscored:
                print(f"  {u['image']}: {u['reason']}")
        if result.metrics.per_image:
            print(format_scores(result.metrics.summary()))
        if result.identity.frames:
            print(format_identity(result.identity.summary()))
    print(f"{len(result.results)} of {len(images)} label maps in {args.out}, report in {args.out / 'predict.json'}")
    status = 0
    if result.failures:
        print(f"{len(result.failures)} of {len(images)} images failed:", file=sys.stderr)
        for f in result.failures:
            print(f"  {f['image']}: {f['reason']}", file=sys.stderr)
        status = 1
    if masks is not None and result.results and not result.metrics.per_image:
        print(f"no image could be scored against {args.masks}", file=sys.stderr)
        status = 1
    return status
