"""An OpenIGTLink source (as from PLUS's OpenIGTLink server): IMAGE messages over a socket of the runtime's own
(`edge.live.sources.igtl_wire`), decoded by pyigtl's message classes (imported when used)."""

from __future__ import annotations

import struct
import time
from urllib.parse import urlsplit

import numpy as np

from edge.core.frame import FrameRejected, check_pixels
from edge.live.sources.base import BadFrame, Capture, Geometry, SourceError, SourceLost
from edge.live.sources.igtl_wire import EXTENDED_HEAD, IMAGE_HEAD, Header, IGTLLink

DEFAULT_PORT = 18944  #: the OpenIGTLink port PLUS and 3D Slicer use
#: an IMAGE body's own header: version, components, scalar type, endianness, coordinates, size (i, j, k), matrix,
#: subvolume start and size
_IMAGE_HEAD = struct.Struct(">HBBBBHHH12f6H")
UINT8 = 3  #: the IMAGE scalar type of 8-bit pixels, the only one a screen capture comes in


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


def check_image_head(head: bytes, voxel_bytes: int) -> None:
    """BadFrame for an IMAGE the runtime cannot take, from its own header before its voxels are read: not 8-bit, not
    one slice of grey, RGB or RGBA, larger than any capture, or announcing more voxels than `voxel_bytes`."""
    values = _IMAGE_HEAD.unpack(head)
    components, scalar, (i, j, k) = values[1], values[2], values[5:8]
    if scalar != UINT8:
        raise BadFrame("bad_format", f"IMAGE scalar type {scalar}, expected 8-bit ({UINT8})")
    if k != 1:
        raise BadFrame("bad_format", f"IMAGE volume of {k} slices, expected one")
    if components not in (1, 3, 4):
        raise BadFrame("bad_format", f"IMAGE of {components} components: expected grey or RGB")
    try:
        check_pixels(i, j)
    except FrameRejected as exc:
        raise BadFrame("too_large", str(exc)) from None
    if i * j * components > voxel_bytes:
        raise BadFrame("bad_format", f"IMAGE {i}x{j}x{components} announces more voxels than its {voxel_bytes} bytes")


def to_bgr(image: np.ndarray) -> np.ndarray:
    """An IMAGE's voxels as pyigtl gives them, (1, rows, columns[, components]) uint8 -> grey or BGR."""
    a = np.asarray(image)[0]
    if a.ndim == 2:
        return np.ascontiguousarray(a)
    if a.shape[-1] == 1:
        return np.ascontiguousarray(a[..., 0])
    return np.ascontiguousarray(a[..., 2::-1])  # RGB(A) -> BGR


class IGTLCapture(Capture):
    """A client of an OpenIGTLink server; each IMAGE message (of `device`, or any) is a frame.

    Every IMAGE is read on the reader's thread, so one replaced before the runtime takes it is counted (`busy`). Other
    messages, and IMAGEs of other devices, are dropped as they arrive; an IMAGE the runtime cannot take is a counted
    bad frame, its voxels never held. A server that sends no IMAGE for `stall_s`, sends bytes that are not
    OpenIGTLink or announces a body larger than any frame counts as lost, and the reader reconnects with back-off;
    `open` fails when no connection comes within `connect_s`.
    """

    live = True
    scaled = True  #: each IMAGE's matrix gives its pixel spacing

    def __init__(self, spec: str, stall_s: float = 2.0, connect_s: float = 1.0) -> None:
        self.host, self.port, self.device = parse_igtl_url(spec)
        self.name = f"igtl://{self.host}:{self.port}" + (f"/{self.device}" if self.device else "")
        self.stall_s, self.connect_s = stall_s, connect_s
        self._link: IGTLLink | None = None
        self._codec = None  #: pyigtl's MessageBase, once open: it decodes the IMAGE
        self._geometry: Geometry | None = None

    def open(self) -> None:
        import pyigtl  # the igtl extra (the message codec); a missing one becomes tlfseg's one-line message

        self._codec = pyigtl.MessageBase
        try:
            self._link = IGTLLink(self.host, self.port, self.connect_s)
        except OSError:
            raise SourceError(f"no OpenIGTLink server at {self.host}:{self.port}") from None

    def read(self) -> np.ndarray:
        if self._link is None:
            raise SourceLost(f"{self.name} is not open")
        deadline = time.monotonic() + self.stall_s
        try:
            while True:
                header = self._link.header(deadline)
                if header.type == "IMAGE" and self.device in (None, header.device):
                    return self._image(header, deadline)
                self._link.skip(header.body_size, deadline)
        except TimeoutError as exc:
            raise SourceLost(f"{self.name}: no IMAGE for {self.stall_s:g} s (waiting for {exc})") from None

    def _image(self, header: Header, deadline: float) -> np.ndarray:
        """The IMAGE's picture (its geometry kept); BadFrame, its body dropped as it arrives, for one not taken."""
        link, size = self._link, header.body_size
        start = EXTENDED_HEAD if header.version == 2 else 0
        if size < start + IMAGE_HEAD:
            link.skip(size, deadline, "an IMAGE")
            raise BadFrame("bad_format", f"IMAGE body of {size} bytes, shorter than its header")
        body = bytearray(size)
        view = memoryview(body)
        link.read_into(view[: start + IMAGE_HEAD], deadline, "an IMAGE")
        try:
            if start and int.from_bytes(body[:2], "big") != EXTENDED_HEAD:
                raise BadFrame("bad_format", f"extended header of {int.from_bytes(body[:2], 'big')} bytes, not 12")
            check_image_head(body[start : start + IMAGE_HEAD], size - start - IMAGE_HEAD)
        except BadFrame:
            link.skip(size - start - IMAGE_HEAD, deadline, "an IMAGE")
            raise
        link.read_into(view[start + IMAGE_HEAD :], deadline, "an IMAGE")
        message = self._codec.create_message("IMAGE")
        try:
            message.unpack(self._codec.parse_header(header.raw), body)
        except (ValueError, KeyError, IndexError, struct.error, NotImplementedError) as exc:
            raise BadFrame("bad_format", f"IMAGE does not decode: {exc}") from None
        self._geometry = Geometry(
            np.asarray(message.ijk_to_world_matrix, float), message.world_coordinate_system, message.timestamp
        )
        return to_bgr(message.image)

    def close(self) -> None:
        if self._link is not None:
            link, self._link = self._link, None
            link.close()

    def geometry(self) -> Geometry | None:
        """The last IMAGE's matrix (origin, spacing, directions), for the label map sent back over the same grid."""
        return self._geometry

    def describe(self) -> str:
        return f"{self.name} (OpenIGTLink IMAGE, {'device ' + self.device if self.device else 'any device'})"
