"""`tlfseg export --dicom DIR [--send AE@HOST:PORT]` and `tlfseg report`: recordings for the clinic (plugs into
`tlfseg`)."""

from __future__ import annotations

import argparse

from clinic.options import add_visit_options
from clinic.session_end import extend_run


def register(subparsers) -> None:
    if "run" in subparsers.choices:  # edge's own commands are registered first
        extend_run(subparsers.choices["run"])
    export = subparsers.add_parser(
        "export",
        help="a recording as DICOM: key frames as Secondary Capture, measurements as a TID 1500 SR",
        description="Write a visit's recordings (one per side) as DICOM files: the key frames with their overlay "
        "as Secondary Capture images and the measurements as one Structured Report (docs/dicom.md).",
    )
    export.add_argument("--dicom", metavar="DIR", help="folder to write the .dcm files to")
    add_recording_options(export, recordings="*")
    export.add_argument(
        "--send",
        metavar="AE@HOST:PORT",
        help="also send the files to an archive (C-ECHO, then C-STORE; the pacs extra); what it does not store waits "
        "in the outbox (docs/dicom.md)",
    )
    export.add_argument(
        "--retry", action="store_true", help="with --send and no recordings: send what waits in the outbox"
    )
    export.add_argument("--calling-ae", default="TLFSEG", metavar="AE", help="this station's AE title (default TLFSEG)")
    export.add_argument("--outbox", metavar="DIR", help="the send queue (default ~/.local/share/tlfseg/outbox)")
    export.set_defaults(handler=run_export)

    report = subparsers.add_parser(
        "report",
        help="recordings of a visit (and earlier visits) as one offline HTML report for the clinic",
        description="One self-contained HTML file (pictures embedded, no address outside it) for the latest visit "
        "among the recordings: best frames, thickness and echogenicity per side, left vs right, the change over "
        "earlier visits, the model's caveats and the calibration (docs/report.md).",
    )
    report.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    report.add_argument("--pdf", metavar="FILE", help="also print it to a PDF (headless Chromium, the OS package)")
    add_recording_options(report)
    report.set_defaults(handler=run_report)


def add_recording_options(p: argparse.ArgumentParser, recordings: str = "+") -> None:
    """The recordings (`nargs`), their sides, the patient JSON and how many key frames: shared by export and report."""
    p.add_argument("recordings", nargs=recordings, metavar="RECORDING", help="folders written by tlfseg run --record")
    add_visit_options(p, per_recording=True)


def _recordings(args: argparse.Namespace) -> list:
    from clinic.recording import Recording

    sides = args.side or []
    if sides and len(sides) != len(args.recordings):
        raise ValueError(f"give --side once per recording ({len(args.recordings)}), or not at all")
    return [Recording.load(r, sides[i] if sides else None) for i, r in enumerate(args.recordings)]


def run_export(args: argparse.Namespace) -> int:
    import sys

    if args.retry:
        if not args.send or args.recordings or args.dicom:
            raise ValueError("--retry sends what waits in the outbox: give --send AE@HOST:PORT and no recordings")
        return _send(*_send_options(args), args.calling_ae)
    if not (args.dicom and args.recordings):
        raise ValueError("give --dicom DIR and the recordings to export (or --send AE@HOST:PORT --retry)")
    if not args.send and (args.outbox or args.calling_ae != "TLFSEG"):
        raise ValueError("--outbox and --calling-ae are for --send")
    from clinic.dicom.export import export_dicom
    from clinic.patient import Patient

    target = _send_options(args) if args.send else None  # checked before anything is written
    done = export_dicom(_recordings(args), Patient.load(args.patient), args.dicom, args.key_frames)
    for warning in done.warnings:
        print(f"tlfseg export: warning: {warning}", file=sys.stderr)
    print(done.describe(args.dicom))
    if target is None:
        return 0
    target[1].add(done.files)
    return _send(*target, args.calling_ae)


def _send_options(args: argparse.Namespace) -> tuple:
    """(the archive, the outbox) of --send and --outbox, and --calling-ae, checked; the pacs extra imported."""
    import pynetdicom  # noqa: F401  (the pacs extra: a missing one is its one line, now)

    from clinic.dicom.outbox import Outbox, default_folder
    from clinic.dicom.send import Peer, ae_title

    ae_title(args.calling_ae, "--calling-ae")
    return Peer.parse(args.send), Outbox(args.outbox or default_folder())


def _send(peer, outbox, calling_ae: str) -> int:
    """Send all that waits in the outbox; 1, saying why and what is kept, when the archive did not store it all."""
    import sys

    waiting = outbox.pending()
    if not waiting:
        print(f"the outbox {outbox.folder} is empty: nothing to send")
        return 0
    sent = outbox.send(peer, calling_ae)
    print(f"sent {len(sent.stored)} of {len(waiting)} file(s) to {peer}")
    kept = outbox.pending()
    if not kept:
        return 0
    reasons = ([sent.stopped] if sent.stopped else []) + [f"{p.name}: {why}" for p, why in sent.refused.items()]
    print(
        f"tlfseg export: error: {'; '.join(reasons)}; {len(kept)} file(s) kept in {outbox.folder} "
        f"(tlfseg export --send {peer} --retry sends them)",
        file=sys.stderr,
    )
    return 1


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from clinic.files import refuse_existing, written
    from clinic.patient import Patient
    from clinic.report.html import build_report

    out, pdf = Path(args.out), Path(args.pdf) if args.pdf else None
    refuse_existing(out, pdf)
    html = build_report(_recordings(args), Patient.load(args.patient), args.key_frames)
    out.parent.mkdir(parents=True, exist_ok=True)
    with written(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
    print(f"report: {out} ({len(html.encode()) // 1024} KiB, self-contained)")
    if pdf:
        from clinic.report.browser import render

        with written(pdf.resolve()) as tmp:
            render(out, pdf=tmp)
        print(f"PDF: {pdf} ({pdf.stat().st_size // 1024} KiB)")
    return 0
