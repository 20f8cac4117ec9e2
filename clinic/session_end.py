"""`tlfseg run --record DIR --dicom OUT`: the recording exported as DICOM when the live session ends.

The same export as `tlfseg export --dicom`, run however the session ended (as asked, Ctrl-C, its source given up):
what was recorded is exported. The options are checked, and the `dicom` extra imported, before the session starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from clinic.options import add_visit_options
from edge.tools.commands.run import add_session_end


def extend_run(run: argparse.ArgumentParser) -> None:
    """Add `--dicom`, `--patient`, `--side` and `--key-frames` to `tlfseg run`."""
    g = run.add_argument_group("for the clinic, when the session ends (needs --record; docs/dicom.md)")
    g.add_argument(
        "--dicom",
        metavar="DIR",
        help="export the recording as DICOM to DIR when the session ends (also on Ctrl-C or a source given up), "
        "as tlfseg export --dicom does (the dicom extra)",
    )
    add_visit_options(g, per_recording=False)
    add_session_end(run, prepare)


def prepare(args: argparse.Namespace) -> Callable[[Path | None], None] | None:
    """Check the options before the session (a bad patient file or a missing extra stops it from starting)."""
    if not (args.dicom or args.side or args.patient):
        return None
    if not args.record:
        raise ValueError("--dicom, --patient and --side need --record DIR: the export is made from the recording")
    if args.patient and not args.dicom:
        raise ValueError("--patient is for --dicom")
    from clinic.patient import Patient

    patient = Patient.load(args.patient)
    if args.dicom:
        import clinic.dicom.export  # noqa: F401  (the dicom extra: a missing one is its one line, now)

    def finish(folder: Path | None) -> None:
        from clinic.recording import Recording, save_meta

        if args.side:
            save_meta(folder, side=args.side)
        if not args.dicom:
            return
        from clinic.dicom.export import export_dicom

        try:
            done = export_dicom([Recording.load(folder)], patient, args.dicom, args.key_frames)
        except (ValueError, OSError) as exc:
            raise ValueError(
                f"DICOM export failed: {exc} (the recording is kept: tlfseg export --dicom {args.dicom} {folder})"
            ) from exc
        for warning in done.warnings:
            print(f"tlfseg run: warning: {warning}", file=sys.stderr)
        print(done.describe(args.dicom))

    return finish
