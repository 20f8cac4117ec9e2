"""An OpenIGTLink source (as from PLUS's OpenIGTLink server): IMAGE messages through pyigtl, imported when used."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import numpy as np

from edge.live.sources.base import BadFrame, Capture, Geometry, SourceError, SourceLost

DEFAULT_PORT = 18944  #: the OpenIGTLink port PLUS and 3D Slicer use


def parse_igtl_url(spec: str) -> tuple[str, int, str | None]:
    """`igtl://HOST:PORT[/DEVICE]` -> (host, port, device name or None for any IMAGE)."""
    url = urlsplit(spec)
    if url.scheme != "igtl" or not url.hostname:
        raise SourceError(f"OpenIGTLink source must be igtl://HOST:PORT[/DEVICE], got {spec!r}")
    try:
        port = url.port or DEFAULT_PORT
    except ValueError:
        raise SourceError(f"bad port in {spec!r}") from None
    return url.hostname, port, url.path.strip("/") or None


def to_bgr(image: np.ndarray) -> np.ndarray:
    """An IMAGE message's voxels as pyigtl gives them, (slices, rows, columns[, components]) -> grey or BGR uint8."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise BadFrame("bad_format", f"IMAGE scalar type {a.dtype}, expected 8-bit")
    if a.ndim in (3, 4):
        if a.shape[0] != 1:
            raise BadFrame("bad_format", f"IMAGE volume of {a.shape[0]} slices, expected one")
        a = a[0]
    if a.ndim == 2:
        return np.ascontiguousarray(a)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        return np.ascontiguousarray(a[..., 2::-1])  # RGB(A) -> BGR
    raise BadFrame("bad_format", f"IMAGE of shape {image.shape}: expected grey or RGB")


class IGTLCapture(Capture):
    """A client of an OpenIGTLink server; each IMAGE message (of `device`, or any) is a frame.

    pyigtl keeps only the newest message a device, so a slow reader gets the newest picture. A server that
    sends nothing for `stall_s` counts as lost (pyigtl does not notice a closed connection), and the reader
    reconnects with back-off; `open` fails when no connection comes within `connect_s`.
    """

    live = True

    def __init__(self, spec: str, stall_s: float = 2.0, connect_s: float = 1.0) -> None:
        self.host, self.port, self.device = parse_igtl_url(spec)
        self.name = f"igtl://{self.host}:{self.port}" + (f"/{self.device}" if self.device else "")
        self.stall_s, self.connect_s = stall_s, connect_s
        self._client = None
        self._geometry: Geometry | None = None

    def open(self) -> None:
        import pyigtl  # the igtl extra; a missing one becomes tlfseg's one-line message

        client = pyigtl.OpenIGTLinkClient(self.host, self.port, start_now=True)
        deadline = time.monotonic() + self.connect_s
        while not client.is_connected():
            if time.monotonic() > deadline:
                client.stop()
                raise SourceError(f"no OpenIGTLink server at {self.host}:{self.port}")
            time.sleep(0.01)
        self._client = client

    def _next_image(self):
        if self.device is not None:
            return self._client.wait_for_message(self.device, timeout=0.05)
        images = [m for m in self._client.get_latest_messages() if m.message_type == "IMAGE"]
        if not images:
            time.sleep(0.01)
        return images[-1] if images else None

    def read(self) -> np.ndarray:
        if self._client is None:
            raise SourceLost(f"{self.name} is not open")
        since = time.monotonic()
        while True:
            message = self._next_image()
            if message is not None and message.message_type == "IMAGE":
                picture = to_bgr(message.image)
                self._geometry = Geometry(
                    np.asarray(message.ijk_to_world_matrix, float), message.world_coordinate_system, message.timestamp
                )
                return picture
            if time.monotonic() - since > self.stall_s:
                raise SourceLost(f"{self.name}: no IMAGE for {self.stall_s:g} s")

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.stop()

    def geometry(self) -> Geometry | None:
        """The last IMAGE's matrix (origin, spacing, directions), for the label map sent back over the same grid."""
        return self._geometry

    def describe(self) -> str:
        return f"{self.name} (OpenIGTLink IMAGE, {'device ' + self.device if self.device else 'any device'})"
