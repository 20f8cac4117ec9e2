"""tlfseg in the clinic: recordings exported as DICOM (Secondary Capture + TID 1500 SR) and an offline HTML report.

Built on `edge` (which never imports it); needs the `dicom` extra for DICOM and nothing more than `edge` for the report.
"""

SIDES = ("left", "right")  #: the sides a recording can be of
