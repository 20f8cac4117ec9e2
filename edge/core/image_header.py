"""An encoded image's size from its header, before anything is decoded (no decompression bombs): PNG, JPEG, BMP and
TIFF, the formats the runtime reads from folders and the bridge takes in FRAMEs."""

from __future__ import annotations

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257


class HeaderError(ValueError):
    """The data has no header of the format it should have, or one that cannot be read."""


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise HeaderError("PNG data without a PNG signature and IHDR header")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG: its frame (SOF) header, found by walking the markers before it."""
    if data[:2] != b"\xff\xd8":
        raise HeaderError("JPEG data without a start-of-image marker")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise HeaderError(f"JPEG data corrupt at byte {i} (no marker)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_SOF:
            if i + 9 > len(data):
                break
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    raise HeaderError("JPEG data without a frame (SOF) header")


def bmp_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a BMP (a bottom-up or top-down one alike)."""
    if len(data) < 26 or data[:2] != b"BM":
        raise HeaderError("BMP data without a BMP header")
    if int.from_bytes(data[14:18], "little") == 12:  # the OS/2 header: 16-bit sizes
        return int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
    width, height = (int.from_bytes(data[at : at + 4], "little", signed=True) for at in (18, 22))
    return abs(width), abs(height)


def tiff_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a TIFF's first image (the one OpenCV reads)."""
    order = {b"II*\0": "little", b"MM\0*": "big"}.get(bytes(data[:4]))
    if order is None or len(data) < 8:
        raise HeaderError("TIFF data without a TIFF header (BigTIFF is not read)")

    def u(at: int, n: int) -> int:
        if at + n > len(data):
            raise HeaderError("TIFF data cut short in its first directory")
        return int.from_bytes(data[at : at + n], order)

    ifd = u(4, 4)
    found = {}
    for entry in range(ifd + 2, ifd + 2 + 12 * u(ifd, 2), 12):
        tag, kind = u(entry, 2), u(entry + 2, 2)
        if tag in (_TIFF_WIDTH, _TIFF_HEIGHT):
            found[tag] = u(entry + 8, 2) if kind == 3 else u(entry + 8, 4)  # SHORT or LONG
    if len(found) < 2:
        raise HeaderError("TIFF data without its image's width and length")
    return found[_TIFF_WIDTH], found[_TIFF_HEIGHT]


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, JPEG, BMP or TIFF, by its signature; HeaderError for anything else."""
    start = bytes(data[:4])
    if start == PNG_SIGNATURE[:4]:
        return png_size(data)
    if start[:2] == b"\xff\xd8":
        return jpeg_size(data)
    if start[:2] == b"BM":
        return bmp_size(data)
    if start in (b"II*\0", b"MM\0*"):
        return tiff_size(data)
    raise HeaderError("not a PNG, JPEG, BMP or TIFF image")
