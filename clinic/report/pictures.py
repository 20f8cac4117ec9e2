"""Pictures inside the report: base64 data, no file beside it."""

from __future__ import annotations

import base64

import cv2
import numpy as np


def data_uri(picture_bgr: np.ndarray) -> str:
    """A JPEG `data:` address of a BGR picture."""
    ok, data = cv2.imencode(".jpg", picture_bgr, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ValueError("cannot encode a picture as JPEG")
    return f"data:image/jpeg;base64,{base64.b64encode(data.tobytes()).decode()}"
