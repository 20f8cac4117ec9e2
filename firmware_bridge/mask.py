"""Class masks in a RESULT: run-length (RLE) or PNG encoded label maps."""

from __future__ import annotations

import numpy as np

from firmware_bridge.protocol import MaskEncoding


class MaskError(ValueError):
    """Mask bytes that do not decode to the announced size."""


def _uleb128(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def rle_encode(labels: np.ndarray) -> bytes:
    """Row-major runs of a uint8 (H, W) map: (value u8, run length ULEB128) repeated; runs may span rows."""
    flat = np.ascontiguousarray(labels, dtype=np.uint8).ravel()
    if flat.size == 0:
        return b""
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.append(starts, flat.size))
    out = bytearray()
    for value, n in zip(flat[starts].tolist(), lengths.tolist()):
        out.append(value)
        _uleb128(n, out)
    return bytes(out)


def rle_decode(data: bytes, width: int, height: int) -> np.ndarray:
    """Inverse of `rle_encode`; MaskError if the runs do not cover exactly width x height pixels."""
    total, values, lengths = width * height, [], []
    covered, i = 0, 0
    while i < len(data):
        value, n, shift = data[i], 0, 0
        i += 1
        while True:
            if i >= len(data) or shift > 28:
                raise MaskError("RLE mask: a run length is cut short or too long")
            byte = data[i]
            i += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        covered += n
        if covered > total:
            raise MaskError(f"RLE mask: runs cover more than {width}x{height} pixels")
        values.append(value)
        lengths.append(n)
    if covered != total:
        raise MaskError(f"RLE mask: runs cover {covered} pixels, {width}x{height} = {total} announced")
    return np.repeat(np.asarray(values, np.uint8), lengths).reshape(height, width)


def encode_mask(labels: np.ndarray, encoding: MaskEncoding) -> bytes:
    if encoding == MaskEncoding.RLE:
        return rle_encode(labels)
    if encoding == MaskEncoding.PNG:
        import cv2

        ok, data = cv2.imencode(".png", np.ascontiguousarray(labels, dtype=np.uint8))
        if not ok:
            raise MaskError("PNG encoding of the mask failed")
        return data.tobytes()
    return b""


def decode_mask(data: bytes, encoding: MaskEncoding, width: int, height: int) -> np.ndarray | None:
    """The (height, width) uint8 class map a RESULT carries, or None when it carries none."""
    if encoding == MaskEncoding.NONE:
        return None
    if encoding == MaskEncoding.RLE:
        return rle_decode(data, width, height)
    import cv2

    labels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.shape != (height, width):
        got = "undecodable" if labels is None else f"{labels.shape}"
        raise MaskError(f"PNG mask: {got}, {width}x{height} announced")
    return labels
