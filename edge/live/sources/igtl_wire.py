"""An OpenIGTLink client socket of the runtime's own: message headers and bodies read with limits and deadlines.

pyigtl's client reads on a thread of its own with no limit on what a header announces, reconnects without back-off
and prints a traceback for each bad message; its message classes stay the codec (`edge.live.sources.igtl`), and this
module owns the transport: a body larger than any frame is refused before a byte of it is read, one that is not
wanted is dropped as it arrives (never held), every read ends by its deadline, and closing never waits.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

from edge.core.frame import MAX_FRAME_PIXELS
from edge.live.sources.base import SourceLost

HEADER = struct.Struct(">H12s20sIIQQ")  #: version, type, device name, timestamp (s, fraction), body size, CRC-64
IMAGE_HEAD = 72  #: an IMAGE body's own header (version 1): components, type, sizes, matrix, subvolume
EXTENDED_HEAD = 12  #: a version-2 message's extended header, before its content
METADATA_MAX = 64 * 1024  #: the metadata a version-2 IMAGE may carry after its voxels
#: the largest body a message may announce: an IMAGE of the largest frame, RGBA, with its headers and metadata
MAX_BODY = EXTENDED_HEAD + IMAGE_HEAD + 4 * MAX_FRAME_PIXELS + METADATA_MAX
CHUNK = 256 * 1024  #: bytes asked of the socket at a time


@dataclass(frozen=True)
class Header:
    """A message's 58-byte header, checked: a known version, a type and device name in ASCII, a body within limits."""

    raw: bytes
    version: int
    type: str
    device: str
    body_size: int


def parse_header(raw: bytes) -> Header:
    """SourceLost for bytes that are no OpenIGTLink header (the stream cannot be followed past them) or a body over
    `MAX_BODY` (refused before it is read)."""
    version, kind, device, _, _, body_size, _ = HEADER.unpack(raw)
    try:
        kind_text, device_text = (f.rstrip(b"\0").decode("ascii") for f in (kind, device))
    except UnicodeDecodeError:
        raise SourceLost("the server sent bytes that are not an OpenIGTLink header (type or name not ASCII)") from None
    if version not in (1, 2) or not kind_text.isprintable() or not kind_text:
        raise SourceLost(f"the server sent bytes that are not an OpenIGTLink header (version {version})")
    if body_size > MAX_BODY:
        raise SourceLost(
            f"a message of type {kind_text} announces {body_size / 2**20:.0f} MiB, more than any frame "
            f"({MAX_BODY / 2**20:.0f} MiB at most): refused unread"
        )
    return Header(raw, version, kind_text, device_text, body_size)


class IGTLLink:
    """A connected client socket; every read waits until `deadline` (time.monotonic()) at most."""

    def __init__(self, host: str, port: int, connect_s: float) -> None:
        self.name = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=connect_s)  # OSError where no server answers

    def _recv_into(self, view: memoryview, deadline: float, what: str) -> int:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(what)
        self.sock.settimeout(left)
        try:
            n = self.sock.recv_into(view, min(len(view), CHUNK))
        except TimeoutError:
            raise TimeoutError(what) from None
        except OSError as exc:
            raise SourceLost(f"{self.name}: {exc.strerror or exc}") from None
        if not n:
            raise SourceLost(f"{self.name} closed the connection")
        return n

    def read_into(self, view: memoryview, deadline: float, what: str = "a message") -> None:
        """Fill `view`; TimeoutError naming `what` at the deadline."""
        got = 0
        while got < len(view):
            got += self._recv_into(view[got:], deadline, what)

    def read(self, n: int, deadline: float, what: str = "a message") -> bytearray:
        """The next `n` bytes (at most `MAX_BODY`)."""
        out = bytearray(n)
        self.read_into(memoryview(out), deadline, what)
        return out

    def skip(self, n: int, deadline: float, what: str = "a message") -> None:
        """Drop the next `n` bytes as they arrive, holding none but one chunk."""
        scratch = memoryview(bytearray(min(n, CHUNK)))
        while n:
            n -= self._recv_into(scratch[: min(n, CHUNK)], deadline, what)

    def header(self, deadline: float) -> Header:
        return parse_header(bytes(self.read(HEADER.size, deadline, "a message header")))

    def close(self) -> None:
        self.sock.close()
