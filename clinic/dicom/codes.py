"""The coded concepts of the report: standard codes where DICOM / SNOMED / UCUM have one, else tlfseg's own.

Concepts no standard names (the runtime's quality flags, the frame counts) use the private coding scheme
`99TLFSEG` (DICOM PS3.16 8.2: designators starting with "99" are private).
"""

from __future__ import annotations

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

SCHEME = "99TLFSEG"
#: declared in the SR (SOP Common's Coding Scheme Identification Sequence), as PS3.3 C.12.1.1.4 asks of a private one
SCHEME_ITEM = CodingSchemeIdentificationItem(
    SCHEME, name="tlfseg private codes", version="1", responsible_organization="tlfseg"
)

PROCEDURE = codes.SCT.DiagnosticUltrasonography  #: 16310003, a procedure (310169008 is the service, a department)
MEDIAN = codes.SCT.Median
PRESENT = codes.SCT.Present
LATERALITY = codes.SCT.Laterality
SIDE = {"left": codes.SCT.Left, "right": codes.SCT.Right}
ECHOGENICITY = codes.DCM.Echogenicity
MILLIMETRE = codes.UCUM.Millimeter
PIXEL = CodedConcept("{pixels}", "UCUM", "pixels")
NO_UNITS = codes.UCUM.NoUnits
FRAMES = CodedConcept("{frames}", "UCUM", "frames")


def own(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, SCHEME, meaning)


FASCIA = own("TLF", "Thoracolumbar fascia")
THICKNESS = own("THICK", "Fascia thickness")
THICKNESS_IQR = own("THICKIQR", "Fascia thickness interquartile range")
FRAMES_USED = own("NGOOD", "Frames measured")
FRAMES_FLAGGED = own("NFLAG", "Frames flagged")


def flag(name: str) -> CodedConcept:
    """A runtime quality flag (`edge.measurement.measure`) as the name of a qualitative evaluation."""
    return own(f"F-{name}"[:16], f"Frame quality flag: {name.replace('_', ' ')}")
