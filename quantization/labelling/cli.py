"""`tlfseg label export` and `tlfseg label import`. Only argparse and the standard library at module level."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from edge.tools.commands import add_model_options, add_roi_option

TOKEN_VARIABLE = "LABEL_STUDIO_API_KEY"  #: where the token is read from without --token (the SDK's name for it)


def register(sub) -> None:
    p = sub.add_parser(
        "label",
        help="label frames in Label Studio, the model's band as editable polygons; read exports back into masks",
        description="Labelling with an annotation tool: export frames to Label Studio with the model's band as "
        "pre-annotations, import Label Studio's JSON export or COCO polygon JSON (CVAT) as 0/1/2 masks.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    e = actions.add_parser(
        "export",
        help="frames -> Label Studio tasks (and a project on a running server) with the model's band",
        description="Segment every image of a folder with the model and write OUT/label_config.xml and OUT/tasks.json "
        "(the model's band as one polygon per piece, to correct by dragging its vertices); with --url, also create "
        "the project on that Label Studio server and upload the frames into it (OUT/project.json).",
    )
    add_model_options(e)
    add_roi_option(e, "detected per image")
    e.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder of frames to label")
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the tasks and the interface go")
    e.add_argument(
        "--files-root",
        type=Path,
        metavar="DIR",
        help="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, for the image URLs in tasks.json "
        "(default: the image folder's parent)",
    )
    e.add_argument("--url", metavar="URL", help="a running Label Studio, e.g. http://127.0.0.1:8080")
    e.add_argument("--token", metavar="TOKEN", help=f"its access token (default: ${TOKEN_VARIABLE})")
    e.add_argument("--project", metavar="NAME", help="the new project's title (default: 'tlfseg <image folder>')")
    e.set_defaults(handler=_export)

    i = actions.add_parser(
        "import",
        help="a Label Studio JSON export or COCO polygon JSON -> 0/1/2 masks, checked by the label check",
        description="Write OUT/<stem>.png for every labelled image: 0 = above, 1 = fascia, 2 = below (255: a column "
        "without a band). The format is detected: a Label Studio JSON export (a list of tasks) or COCO JSON (CVAT's "
        "'COCO 1.0': polygons or uncompressed masks of the band). Existing masks are not written over.",
    )
    i.add_argument("annotations", type=Path, metavar="EXPORT.json", help="Label Studio JSON export, or COCO JSON")
    i.add_argument("--images", type=Path, required=True, metavar="DIR", help="the labelled images")
    i.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the masks go")
    i.add_argument("--category", metavar="NAME", help="COCO: the band's category (default: the only one, or 'fascia')")
    i.add_argument(
        "--no-label-check",
        dest="label_check",
        action="store_false",
        help="write masks that do not sit on their image too (default: refused, with the reason)",
    )
    i.set_defaults(handler=_import)


def _export(args: argparse.Namespace) -> int:
    from edge.core.imagefiles import IMAGE_SUFFIXES, list_images
    from edge.live.pipeline import FramePipeline
    from edge.tools.commands import parse_roi
    from edge.tools.errors import CommandError
    from quantization.labelling.client import LabelStudio
    from quantization.labelling.export import export_frames, session_reasons

    images = list_images(args.images)
    if not images:
        raise CommandError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {args.images}")
    root = args.files_root or args.images.resolve().parent
    if not args.images.resolve().is_relative_to(root.resolve()):
        raise CommandError(f"--files-root {root} does not hold the image folder {args.images}")
    server = None
    if args.url:
        token = args.token or os.environ.get(TOKEN_VARIABLE)
        if not token:
            raise CommandError(f"--url needs --token or ${TOKEN_VARIABLE} (Label Studio: Account & Settings)")
        server = LabelStudio(args.url, token)
    title = args.project or f"tlfseg {args.images.resolve().name}"[:50]
    pipeline = FramePipeline(args.model, parse_roi(args.roi), video=False, threads=args.threads, delegate=args.delegate)
    print(f"model: {pipeline.engine.describe()}")
    print(f"{len(images)} frames from {args.images} -> {args.out}" + (f" and {args.url}" if server else ""))
    index, kept, notice = session_reasons(args.images)
    if notice:
        print(notice, file=sys.stderr)
    elif kept:
        why = [kept[p.resolve()]["kept"] for p in images if p.resolve() in kept]
        counts = f" ({why.count('flagged')} flagged, {why.count('sample')} sampled)" if why else ""
        print(f"{index}: why a live session kept {len(why)} of the {len(images)} frames{counts}")
    made, failed, project = export_frames(pipeline, images, args.out, root, server, title, kept=kept)
    if server:
        print(f"project '{title}': {server.url}/projects/{project}/data")
    print(f"{made} tasks in {args.out / 'tasks.json'}, the interface in {args.out / 'label_config.xml'}")
    for line in failed:
        print(f"  {line}", file=sys.stderr)
    return 1 if failed else 0


def _import(args: argparse.Namespace) -> int:
    from edge.tools.errors import CommandError
    from quantization.labelling.coco import is_coco, read_coco
    from quantization.labelling.label_studio import read_export
    from quantization.labelling.masks import write_masks

    name = args.annotations.name
    if args.out.resolve() == args.images.resolve():
        raise CommandError(f"--out {args.out} is the image folder; masks would be written beside the images")
    try:
        doc = json.loads(args.annotations.read_text())
    except ValueError as exc:
        raise CommandError(f"{name}: not JSON ({exc})") from None
    if not is_coco(doc) and not isinstance(doc, list):
        raise CommandError(f"{name}: neither a Label Studio JSON export (a list of tasks) nor COCO JSON")
    try:
        if is_coco(doc):
            drawn, problems, skipped = read_coco(doc, args.category)
            kind = "COCO"
        else:
            drawn, problems, skipped = read_export(doc)
            kind = "Label Studio export"
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandError(f"{name}: {exc}") from None
    print(f"{name}: {kind}, {len(drawn) + len(problems)} labelled, {skipped} not labelled (skipped)")
    written, refused = write_masks(drawn, args.images, args.out, args.label_check)
    problems += refused
    print(f"{len(written)} masks in {args.out}")
    if not drawn and not problems:
        print(f"{name}: no image has a band drawn", file=sys.stderr)
    for line in problems:
        print(f"{name}: {line}", file=sys.stderr)
    return 1 if problems or not written else 0
