"""Results out over OpenIGTLink (to 3D Slicer): per frame the label map as IMAGE, the measurements as STRING (JSON)."""

from __future__ import annotations

import signal

import numpy as np

from edge.core import strict_json
from edge.live.pipeline import FrameResult
from edge.live.session import Session
from edge.live.sinks.base import Sink
from edge.live.sources import Frame, Geometry

LABELS_DEVICE = "tlfseg_labels"  #: IMAGE: 0 above, 1 fascia, 2 below, on the input frame's grid (`label_geometry`)
MEASUREMENT_DEVICE = "tlfseg_measurement"  #: STRING: the frame's measurements as JSON
LOOPBACK = ("127.0.0.1", "localhost")


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--igtl-out must be HOST:PORT, got {text!r}")
    if host not in LOOPBACK:
        raise ValueError(f"--igtl-out listens on loopback only (127.0.0.1), got {host!r}: tunnel it to Slicer")
    return host, int(port)


def label_geometry(frame: Frame, result: FrameResult) -> Geometry:
    """The label map's place: the input IMAGE's own (so Slicer overlays it on that image), else the calibration's
    spacing (mm a pixel; 1 where uncalibrated) at the origin."""
    if frame.geometry is not None:
        return frame.geometry
    mm = result.measurement.mm_per_px or 1.0
    return Geometry(np.diag([mm, mm, mm, 1.0]), "lps", frame.wall_time)


def measurement_json(frame: Frame, result: FrameResult) -> str:
    return strict_json.dumps({"seq": frame.seq, "time": round(frame.wall_time, 4), **result.measurement.to_dict()})


class IGTLSink(Sink):
    """An OpenIGTLink server (pyigtl) that Slicer connects to. Messages go to pyigtl's bounded send queue and only
    while a client is connected, so a late, gone or stuck client costs the loop one queue append at most."""

    def __init__(self, address: str) -> None:
        import pyigtl  # the igtl extra

        self._pyigtl = pyigtl
        host, port = parse_host_port(address)
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.server = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
        finally:  # pyigtl installs its own SIGINT / SIGTERM handlers; the runtime keeps its own
            for s, handler in saved.items():
                signal.signal(s, handler)
        self.sent = 0

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        if not self.server.is_connected():
            return
        igtl, where = self._pyigtl, label_geometry(frame, result)
        labels = igtl.ImageMessage(
            result.labels[None],
            ijk_to_world_matrix=where.ijk_to_world,
            world_coordinate_system=where.world,
            timestamp=where.timestamp,
            device_name=LABELS_DEVICE,
        )
        text = igtl.StringMessage(measurement_json(frame, result), device_name=MEASUREMENT_DEVICE)
        self.server.send_message(labels, wait=False)
        self.server.send_message(text, wait=False)
        self.sent += 1

    def close(self, session: Session) -> None:
        self.server.stop()
