"""A recording as DICOM: key frames with their overlay as Secondary Capture, measurements as a TID 1500 SR."""
