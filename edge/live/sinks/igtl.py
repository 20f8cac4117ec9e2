"""Results out over OpenIGTLink (to 3D Slicer): per frame the label map as IMAGE with its LBMETA (what each label is
and its colour), and the measurements as STRING (JSON), all stamped with the source frame's time."""

from __future__ import annotations

import functools
import ipaddress
import struct

import numpy as np

from edge.core import strict_json
from edge.core.labels import BELOW, CLASS_COLOURS_BGR, CLASS_NAMES, FASCIA
from edge.live.pipeline import FrameResult
from edge.live.session import Session
from edge.live.sinks.base import Sink
from edge.live.sinks.igtl_server import IGTLServer
from edge.live.sources import Frame, Geometry

LABELS_DEVICE = "tlfseg_labels"  #: IMAGE: 0 above, 1 fascia, 2 below, on the input frame's grid (`label_geometry`)
LABEL_META_DEVICE = "tlfseg_labels_meta"  #: LBMETA: the labels of `LABELS_DEVICE`, named and coloured
MEASUREMENT_DEVICE = "tlfseg_measurement"  #: STRING: the frame's measurements as JSON
LABELLED = (FASCIA, BELOW)  #: the structures LBMETA names (0, above the fascia, is the background)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_host_port(text: str, allow_remote: bool = False) -> tuple[str, int]:
    """`HOST:PORT` to listen on; an address other than loopback only with `allow_remote`."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--igtl-out must be HOST:PORT, got {text!r}")
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"--igtl-out {text} is not a loopback address; the OpenIGTLink server has no authentication, "
            "so listening beyond this machine needs --allow-remote"
        )
    return host, int(port)


def label_geometry(frame: Frame, result: FrameResult) -> Geometry:
    """The label map's place: the input IMAGE's own (so Slicer overlays it on that image), else the calibration's
    spacing (mm a pixel; 1 where uncalibrated) at the origin."""
    if frame.geometry is not None:
        return frame.geometry
    mm = result.measurement.mm_per_px or 1.0
    return Geometry(np.diag([mm, mm, mm, 1.0]), "lps", frame.wall_time)


def measurement_json(frame: Frame, result: FrameResult) -> str:
    """The frame's measurements as the recording logs them, with its sequence number, time and source time."""
    source = {"source_time": frame.source_time} if frame.source_time is not None else {}
    return strict_json.dumps(
        {"seq": frame.seq, "time": round(frame.wall_time, 4), **source, **result.measurement.to_dict()}
    )


def label_meta_content(size: tuple[int, int]) -> bytes:
    """LBMETA's elements (OpenIGTLink protocol, 116 bytes each): name, the IMAGE device, label, RGBA, the image's size
    (columns, rows, slices), no owner image."""
    elements = []
    for label in LABELLED:
        b, g, r = CLASS_COLOURS_BGR[label]
        name, device = CLASS_NAMES[label].encode(), LABELS_DEVICE.encode()
        elements.append(struct.pack(">64s20sBx4B3H20s", name, device, label, r, g, b, 255, *size, 1, b""))
    return b"".join(elements)


@functools.cache
def _label_meta_class():
    import pyigtl

    class LabelMetaMessage(pyigtl.MessageBase):
        """LBMETA, which pyigtl lacks (a pyigtl client skips it)."""

        def __init__(self, size: tuple[int, int], timestamp: float) -> None:
            super().__init__(timestamp=timestamp, device_name=LABEL_META_DEVICE)
            self._message_type, self._valid_message, self.size = "LBMETA", True, size

        def _pack_content(self) -> bytes:
            return label_meta_content(self.size)

    return LabelMetaMessage


class IGTLSink(Sink):
    """An OpenIGTLink server (`IGTLServer`) that Slicer and a few other clients connect to. A frame's messages are
    packed once, only while a client is connected, and queued for each client: a late, gone, slow or stuck client
    costs the loop one queue append and itself its frames (counted), never another client's. Every message has header
    version 1, which every OpenIGTLink library reads. Who came, left or was refused becomes the session's events."""

    def __init__(self, address: str, allow_remote: bool = False) -> None:
        import pyigtl  # the igtl extra (the message codec)

        self._pyigtl = pyigtl
        host, port = parse_host_port(address, allow_remote)
        self.server = IGTLServer(host, port)
        self.sent = 0  #: frames handed over (to one client or more)

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        self._note(session)
        if not self.server.clients:
            return
        igtl, where = self._pyigtl, label_geometry(frame, result)
        labels = igtl.ImageMessage(
            result.labels[None],
            ijk_to_world_matrix=where.ijk_to_world,
            world_coordinate_system=where.world,
            timestamp=where.timestamp,
            device_name=LABELS_DEVICE,
        )
        size = (result.labels.shape[1], result.labels.shape[0])
        meta = _label_meta_class()(size, where.timestamp)
        text = igtl.StringMessage(
            measurement_json(frame, result), timestamp=where.timestamp, device_name=MEASUREMENT_DEVICE
        )
        self.server.send(lambda: b"".join(m.pack() for m in (labels, meta, text)))
        self.sent += 1

    def _note(self, session: Session) -> None:
        for t, kind, detail in self.server.take_events():
            session.add_event({"kind": kind, "t": round(t - session.started, 3), "detail": f"igtl-out {detail}"})

    def close(self, session: Session) -> None:
        self.server.close()
        self._note(session)
        s = self.server
        detail = (
            f"igtl-out: {s.served} clients ({s.most} at once, {s.max_clients} places), {s.refused} refused; "
            f"{s.sent} frames sent, {s.dropped} dropped for slow clients"
        )
        session.add_event({"kind": "igtl_out", "t": round(session.duration_s, 3), "detail": detail})
