"""Protocol constants shared by the codec, the runtime side and the C reference (see docs/protocol.md)."""

from __future__ import annotations

from enum import IntEnum, IntFlag

MAGIC = b"TLFB"
VERSION = 1
HEADER_SIZE = 20  #: magic, version, type, flags, sequence, payload length, header CRC-32
TRAILER_SIZE = 4  #: CRC-32 of the payload
OVERHEAD = HEADER_SIZE + TRAILER_SIZE

NO_ID = 0xFFFFFFFF  #: "none" for a sequence number or frame id field

DEFAULT_MAX_PAYLOAD = 8 * 1024 * 1024  #: bytes; a 1920x1080 BGR frame (6.2 MB) fits
DEFAULT_MAX_WIDTH = 2048
DEFAULT_MAX_HEIGHT = 2048
MAX_SIDE = 0xFFFF  #: the widest and tallest frame the wire can describe (16-bit fields in FRAME and HELLO)
MAX_PAYLOAD = 0xFFFFFFFF  #: the largest payload a header can announce (a 32-bit length)
MAX_SKIPPED_PER_RESULT = 1024  #: a RESULT lists at most this many skipped frame ids
MAX_CLASSES = 16  #: a HELLO names at most this many classes


class MsgType(IntEnum):
    HELLO = 1
    CONFIG = 2
    FRAME = 3
    RESULT = 4
    ERROR = 5
    HEARTBEAT = 6
    BYE = 7
    GLIDE = 8  #: the gliding extension: sent only to a scanner whose HELLO asked for it (HelloFlag.GLIDE)
    HINT = 9  #: the operator's depth prior: from a scanner the runtime granted it (HelloFlag.HINT), echoed back


class HelloFlag(IntFlag):
    """Extension bits in a HELLO's header flags (every other message: send 0). A version-1 peer sends 0 and ignores
    them: a scanner that sets a bit asks for the extension, the runtime's HELLO sets it where it grants it."""

    TOKEN = 1 << 0  #: reserved for the shared-secret design (docs/protocol.md, section 5): not implemented
    GLIDE = 1 << 1  #: a GLIDE message follows each frame's RESULT
    HINT = 1 << 2  #: the scanner may send HINT: the fascia's expected depth range and a one-time hint depth


GLIDE_VERSION = 1  #: layout of the GLIDE payload; a later one only appends fields
HINT_VERSION = 1  #: layout of the HINT payload; a later one only appends fields


class ErrorCode(IntEnum):
    BAD_CRC = 1  #: the payload CRC-32 does not match; the message is dropped
    BAD_VERSION = 2  #: the header names another protocol version; the message is skipped
    TOO_LARGE = 3  #: the announced payload is over the receiver's limit; skipped without buffering
    UNKNOWN_TYPE = 4  #: a message type this receiver does not know
    MALFORMED = 5  #: the payload does not parse as its type says
    TRUNCATED = 6  #: a message was cut short (the next one began inside it, or the line went quiet)
    BAD_FRAME = 7  #: a FRAME that parses but cannot be used (size, stride, format, undecodable image)
    BAD_CONFIG = 8  #: a CONFIG with values out of range; the previous configuration stays
    BUSY = 9  #: no free client slot; the connection is closed
    INTERNAL = 10  #: the runtime failed on this frame
    UNEXPECTED = 11  #: a message the receiver does not accept (e.g. a RESULT sent to the runtime)


class PixelFormat(IntEnum):
    GREY8 = 1
    BGR8 = 2
    JPEG = 3
    PNG = 4

    @property
    def channels(self) -> int:
        """Bytes per pixel of a raw format; 0 for a compressed one."""
        return {PixelFormat.GREY8: 1, PixelFormat.BGR8: 3}.get(self, 0)


class MaskEncoding(IntEnum):
    NONE = 0
    RLE = 1  #: row-major runs: (class u8, run length ULEB128) repeated
    PNG = 2  #: 8-bit grey PNG of the class ids


class Role(IntEnum):
    SCANNER = 0
    RUNTIME = 1


class ByeReason(IntEnum):
    DONE = 0  #: the sender has finished
    SHUTDOWN = 1  #: the runtime is stopping
    IDLE = 2  #: nothing arrived for the idle limit


class Quality(IntFlag):
    """RESULT quality flags (a u32 bitmask); a RESULT without measurement flags is a good measurement. A measurement
    flag past bit 7 (UNFAMILIAR) always comes with OTHER: firmware of version 1 reads only bits 0-7 as measurement
    flags."""

    NO_FASCIA = 1 << 0  #: no fascia found in the ROI: no thickness
    LOW_COVERAGE = 1 << 1  #: the fascia is found in fewer ROI columns than the coverage threshold
    LOW_CONFIDENCE = 1 << 2  #: the model's mean fascia confidence is under the confidence threshold
    FRAGMENTED = 1 << 3  #: the fascia is broken into several bands in more columns than the runtime accepts
    AMBIGUOUS = 1 << 4  #: a second band-shaped structure competes with the measured one: is it the fascia?
    JUMP = 1 << 5  #: on a stream: the band lies far from where it was tracked (another structure, or the probe moved)
    OUTSIDE_RANGE = 1 << 6  #: no band candidate in most columns lies inside the operator's expected depth range
    OTHER = 1 << 7  #: another measurement flag (named in the runtime's log)
    ROI_DETECTED = 1 << 8  #: the ROI is automatic (no fixed ROI configured): detected on the first frame, then tracked
    NO_SCALE = 1 << 9  #: no calibration configured: thickness in pixels only
    UNFAMILIAR = 1 << 10  #: the image's statistics lie far outside the training images': its segmentation in doubt
    PARTIAL = 1 << 11  #: a good measurement of the band's winning piece; a piece at another depth was left out

    @classmethod
    def measurement_flags(cls) -> Quality:
        found = cls.NO_FASCIA | cls.LOW_COVERAGE | cls.LOW_CONFIDENCE | cls.FRAGMENTED
        return found | cls.AMBIGUOUS | cls.JUMP | cls.OUTSIDE_RANGE | cls.OTHER | cls.UNFAMILIAR


class GlideFlag(IntFlag):
    """Why a GLIDE's frame pair is left out of the gliding totals (a u16 bitmask; 0: a good pair, counted)."""

    NO_PREVIOUS = 1 << 0  #: the session's first frame, or the first after a break (nothing to pair it with)
    ROI_CHANGED = 1 << 1  #: the ROI moved: the frames are not comparable
    SEGMENTATION_FLAGGED = 1 << 2  #: either frame's measurement is flagged (the band's identity in doubt)
    FEW_COLUMNS = 1 << 3  #: too few columns hold the band and both tissue strips
    LOW_TEXTURE = 1 << 4  #: a strip without the texture to track
    LOW_CORRELATION = 1 << 5  #: the motion found does not explain a strip's pixels (decorrelated, out of plane)
    SATURATED = 1 << 6  #: a strip largely at full white: its speckle clipped away, the motion pulled towards zero
    OTHER = 1 << 15  #: another reason (named in the runtime's log)
