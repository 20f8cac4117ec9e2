"""`--patient`, `--side` and `--key-frames`: declared once for `tlfseg run`, `tlfseg export` and `tlfseg report`."""

from __future__ import annotations

import argparse

from clinic import SIDES
from edge.tools.commands import positive_int


def add_visit_options(p: argparse._ActionsContainer, *, per_recording: bool) -> None:
    """Add the options to `p` (a parser or an argument group).

    ``per_recording``: `--side` is given once per recording, in order (export and report take several); else once
    (`tlfseg run` records one).
    """
    p.add_argument(
        "--patient",
        metavar="FILE",
        help="patient / study fields as JSON for the DICOM files and the report (nothing else is invented)",
    )
    p.add_argument(
        "--side",
        action="append" if per_recording else "store",
        choices=SIDES,
        help="the side scanned, once per recording in order: tlfseg run keeps it in the recording (clinic.json); "
        "without it, export and report take clinic.json's side, or a word left / right in the folder name",
    )
    p.add_argument(
        "--key-frames",
        type=positive_int,
        default=3,
        metavar="N",
        help="key frames a recording, in the DICOM files and the report (default 3)",
    )
