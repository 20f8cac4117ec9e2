"""The send queue: a folder of DICOM files waiting for the archive, each removed only once the archive stored it.

A field clinic exports offline; `tlfseg export --send` puts the files here and sends what it can, and `--retry`
sends the rest later. Files are named `<time queued>-<n>-<SOP Instance UID>.dcm` and go in that order (a visit's
images before its report); each is written under a temporary name and renamed once complete, and deleted the moment
the archive's success status arrives, so a dropped link, a refused association or a killed process leaves exactly
the files not yet stored.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pydicom

from clinic.dicom.send import Peer, Sent, send
from clinic.files import written


def default_folder() -> Path:
    """`$XDG_DATA_HOME/tlfseg/outbox` (`~/.local/share/tlfseg/outbox`)."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "tlfseg" / "outbox"


class Outbox:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def add(self, files: list[Path]) -> None:
        """Copy `files` in, to be sent after those already waiting, in their order."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.time_ns()
        for n, path in enumerate(files):
            uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
            target = self.folder / f"{stamp:020d}-{n:04d}-{uid}.dcm"
            with written(target) as tmp:
                shutil.copyfile(path, tmp)

    def pending(self) -> list[Path]:
        """The files waiting, oldest first."""
        return sorted(self.folder.glob("[0-9]*.dcm")) if self.folder.is_dir() else []

    def send(self, peer: Peer, calling_ae: str, **options) -> Sent:
        """Send all that waits; each file the archive stored leaves the queue at once."""
        return send(self.pending(), peer, calling_ae, on_stored=Path.unlink, **options)
