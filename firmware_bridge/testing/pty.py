"""A pseudo-terminal pair standing in for a scanner's serial line (tests, the scanner simulator, benchmarks)."""

from __future__ import annotations

import contextlib
import os
import select
import tty

from firmware_bridge.transport import RECV_CHUNK


class PtyLink:
    """The master end of a pseudo-terminal as a link. It holds the slave end open too, so that the master reads no
    EIO before the serial side opens the device."""

    def __init__(self, master: int, slave: int, name: str) -> None:
        self.master, self.slave, self.name = master, slave, name

    def recv(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return None
        try:
            return os.read(self.master, RECV_CHUNK)
        except OSError:  # EIO: the other side of the pty closed
            return b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def open_pty_pair() -> tuple[PtyLink, str]:
    """A raw pseudo-terminal: the master end as a link, and the device path a serial endpoint opens."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    return PtyLink(master, slave, f"pty master of {path}"), path
