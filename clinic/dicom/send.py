"""Files to an archive over the DICOM network (pynetdicom, the `pacs` extra): one association, a C-ECHO, then a
C-STORE a file, each file reported stored only on the archive's success status."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

VERIFICATION = "1.2.840.10008.1.1"
TIMEOUT_S = 30.0  #: connecting, association, and each DIMSE message
#: statuses that mean the archive keeps the object: success and the C-STORE warnings (PS3.4 B.2.3)
STORED = {0x0000, 0xB000, 0xB006, 0xB007}


def ae_title(text: str, what: str) -> str:
    """An AE title as DICOM allows it (1-16 characters, no backslash or control character, not all spaces)."""
    if not 0 < len(text) <= 16 or not text.strip() or any(c == "\\" or not c.isprintable() for c in text):
        raise ValueError(f"{what} must be an AE title of 1 to 16 printable characters, got {text!r}")
    return text


@dataclass(frozen=True)
class Peer:
    """The archive: `AE@HOST:PORT`."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Peer:
        title, at, address = text.rpartition("@")
        host, colon, port = address.rpartition(":")
        if not (at and colon and host and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"--send must be AE@HOST:PORT (PACS@10.0.0.5:104), got {text!r}")
        return cls(ae_title(title, "the archive's AE title"), host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass
class Sent:
    """What one attempt did: the files the archive stored, those it refused (why), and why it stopped early."""

    stored: list[Path] = field(default_factory=list)
    refused: dict[Path, str] = field(default_factory=dict)
    stopped: str | None = None  #: the association could not be made, or ended before every file went


@contextmanager
def _pynetdicom_errors() -> Iterator[list[str]]:
    """pynetdicom's error lines while in the block (it says why an association was rejected only there)."""
    lines: list[str] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("pynetdicom")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def _contexts(files: list[Path]) -> set[tuple[str, str]]:
    """(SOP class, transfer syntax) a file, with the two uncompressed syntaxes every archive accepts."""
    out = set()
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for syntax in (ds.file_meta.TransferSyntaxUID, ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            out.add((str(ds.SOPClassUID), str(syntax)))
    return out


def send(
    files: list[Path],
    peer: Peer,
    calling_ae: str,
    on_stored: Callable[[Path], None] = lambda path: None,
    timeout_s: float = TIMEOUT_S,
) -> Sent:
    """Send `files` in order over one association; `on_stored(path)` right after the archive stored each one."""
    from pynetdicom import AE

    ae = AE(ae_title=ae_title(calling_ae, "--calling-ae"))
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.add_requested_context(VERIFICATION)
    by_class: dict[str, list[str]] = {}
    for sop_class, syntax in sorted(_contexts(files)):
        by_class.setdefault(sop_class, []).append(syntax)
    for sop_class, syntaxes in by_class.items():
        ae.add_requested_context(sop_class, syntaxes)
    result = Sent()
    with _pynetdicom_errors() as errors:
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title)
        if not assoc.is_established:
            why = next((e for e in errors if e.startswith("Reason:")), None)
            result.stopped = (
                f"{peer} refused the association ({why.removeprefix('Reason: ')})"
                if assoc.is_rejected
                else f"no association with {peer} ({'; '.join(errors) or 'no answer'})"
            )
            return result
        try:
            echo = assoc.send_c_echo()
            if echo.get("Status") != 0x0000:
                result.stopped = f"{peer} did not answer the C-ECHO"
                return result
            for path in files:
                status = assoc.send_c_store(path)
                code = status.get("Status")
                if code in STORED:
                    result.stored.append(path)
                    on_stored(path)
                elif code is not None:
                    result.refused[path] = f"status 0x{code:04X}"
                if code is None or not assoc.is_established:  # no answer: aborted by the peer, or the link dropped
                    result.stopped = f"the association with {peer} ended after {len(result.stored)} file(s)"
                    return result
        finally:
            if assoc.is_established:
                assoc.release()
    return result
