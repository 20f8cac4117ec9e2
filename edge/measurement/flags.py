"""The flag registry: every reason a frame's measurement (or a gliding frame pair) is in doubt, once.

Each flag has its name (in logs, JSON and the overlay), plain words (the clinic report), the bit that carries it on
the firmware bridge's wire (RESULT quality, GLIDE flags: docs/protocol.md) and whether it refuses the frame (a
refused frame is no good measurement). Measurement, tracking, the pipeline, the bridge and the report all read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    name: str
    words: str  #: what it means, for a clinician
    bit: int  #: the wire bit (RESULT quality for frame flags, GLIDE flags for gliding's); several flags may share one
    refuses: bool = True  #: the frame is not a good measurement


def _table(*flags: Flag) -> dict[str, Flag]:
    return {f.name: f for f in flags}


#: a frame's measurement flags (RESULT quality bits 0-7, 10 and 11; bit 7, OTHER, for a name the peer does not know)
FRAME_FLAGS = _table(
    Flag("no_fascia", "no fascia found in the picture", 0),
    Flag("low_coverage", "the fascia was found across too little of the picture's width", 1),
    Flag("low_confidence", "the model was unsure of its outline", 2),
    Flag("fragmented", "the fascia was broken into many pieces", 3),
    Flag("discontinuous", "pieces of band side by side at different depths", 3),  # broken too, as on the wire
    Flag("ambiguous", "two bright bands could each be the fascia", 4),
    Flag("second_line", "another bright line ran close beside the band: either could be the fascia", 4),
    Flag("jump", "the band was far from where it had been in the frames before (probe moved?)", 5),
    Flag("outside_range", "the band was outside the depth range the operator set", 6),
    Flag(
        "unfamiliar",
        "the picture was not live B-mode like the images the model learnt from "
        "(blank, frozen, colour, text or graphics, saturated, very noisy)",
        10,
    ),
    Flag(
        "partial",
        "measured on the piece of band that is the fascia; a piece at another depth was left out",
        11,
        refuses=False,
    ),  # fmt: skip
)
#: RESULT quality bit for a measurement flag this table does not name
OTHER_BIT = 7

#: why a frame pair is left out of the gliding totals (GLIDE flag bits; bit 15, OTHER, for an unknown name)
GLIDE_FLAGS = _table(
    Flag("no_previous", "the first frame of a stream or after a break: nothing to compare it with", 0),
    Flag("roi_changed", "the screen layout changed between the two frames", 1),
    Flag("segmentation_flagged", "either frame's measurement was flagged", 2),
    Flag("few_columns", "too few columns held the band and the tissue on both sides", 3),
    Flag("low_texture", "a layer without the texture to follow", 4),
    Flag("low_correlation", "the motion found did not explain a layer's pixels (out of plane)", 5),
    Flag("saturated", "a layer largely at full white: its motion cannot be read", 6),
)
GLIDE_OTHER_BIT = 15


def refuses(flags: tuple[str, ...]) -> bool:
    """Whether any of a frame's `flags` refuses it (an unknown name does)."""
    return any(FRAME_FLAGS[f].refuses if f in FRAME_FLAGS else True for f in flags)


def words(flag: str) -> str:
    """A frame or gliding flag in plain words (an unknown name as its words)."""
    known = FRAME_FLAGS.get(flag) or GLIDE_FLAGS.get(flag)
    return known.words if known else flag.replace("_", " ")


def with_flag(flags: tuple[str, ...], name: str) -> tuple[str, ...]:
    """`flags` and `name`, a registered frame flag (KeyError for a name the registry lacks: a typo caught at once)."""
    return (*flags, FRAME_FLAGS[name].name)
