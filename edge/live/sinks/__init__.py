"""Where live results go: a window, a crash-safe recording, frames kept to label, status lines (each a `Sink`)."""

from edge.live.sinks.base import Sink
from edge.live.sinks.display import DisplaySink, has_display
from edge.live.sinks.recording import RATE_PROBE, RecordingSink, frame_rate, free_folder, read_log
from edge.live.sinks.saved_frames import SaveFramesSink
from edge.live.sinks.status import StatusSink

__all__ = [
    "RATE_PROBE",
    "DisplaySink",
    "RecordingSink",
    "SaveFramesSink",
    "Sink",
    "StatusSink",
    "frame_rate",
    "free_folder",
    "has_display",
    "read_log",
]
