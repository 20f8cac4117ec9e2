"""An OpenIGTLink reader written from the protocol's documents (header.md, image.md, labelmeta.md, string.md,
timestamp.md of openigtlink/OpenIGTLink), not from pyigtl: what any other client would read off the wire, with
each message's CRC-64."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass

HEADER = struct.Struct(">H12s20sIIQQ")  #: version, type, device, seconds, fraction, body size, CRC (58 bytes)
POLY = 0x42F0E1EBA9EA3693  #: ECMA-182, as the protocol's reference library (igtl_util.c) uses it


def _table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 56
        for _ in range(8):
            crc = ((crc << 1) ^ POLY if crc & (1 << 63) else crc << 1) & 0xFFFFFFFFFFFFFFFF
        table.append(crc)
    return table


TABLE = _table()


def crc64(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = TABLE[byte ^ (crc >> 56)] ^ ((crc << 8) & 0xFFFFFFFFFFFFFFFF)
    return crc


@dataclass
class Message:
    version: int
    kind: str
    device: str
    timestamp: float  #: seconds + fraction / 2^32
    body: bytes
    crc_ok: bool  #: the header's CRC-64 is the body's

    def string(self) -> str:
        encoding, length = struct.unpack(">HH", self.body[:4])
        assert encoding == 3 or encoding == 106, encoding  # US-ASCII or UTF-8
        return self.body[4 : 4 + length].decode()

    def label_meta(self) -> list[tuple]:
        """(name, IMAGE device, label, RGBA, size, owner) of each 116-byte element."""
        assert len(self.body) % 116 == 0, len(self.body)
        out = []
        for at in range(0, len(self.body), 116):
            name, device, label, r, g, b, a, i, j, k, owner = struct.unpack(
                ">64s20sBx4B3H20s", self.body[at : at + 116]
            )
            strip = lambda s: s.rstrip(b"\0").decode()  # noqa: E731
            out.append((strip(name), strip(device), label, (r, g, b, a), (i, j, k), strip(owner)))
        return out

    def image_values(self) -> set[int]:
        """The distinct voxel values of a one-component uint8 IMAGE (its 72-byte image header checked)."""
        version, components, scalar, endian, _coord = struct.unpack(">HBBBB", self.body[:6])
        size = struct.unpack(">3H", self.body[6:12])
        assert (version, components, scalar) == (1, 1, 3) and endian in (1, 2), (version, components, scalar, endian)
        data = self.body[72:]
        assert len(data) == size[0] * size[1] * size[2]
        return set(data)


class WireClient:
    """Connects to `port` once the `ready()` callable says so, and keeps every message it reads, in order."""

    def __init__(self, port: int, ready=lambda: True) -> None:
        self.port, self.ready, self.messages, self.raw = port, ready, [], bytearray()  #: raw: every byte read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self, sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n and not self._stop.is_set():
            try:
                chunk = sock.recv(n - len(data))
            except TimeoutError:
                continue
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
            self.raw += chunk
        return data

    def _run(self) -> None:
        while not (self.ready() or self._stop.wait(0.01)):
            pass
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
            try:
                while not self._stop.is_set():
                    head = self._read(sock, HEADER.size)
                    if len(head) < HEADER.size:
                        break
                    version, kind, device, seconds, fraction, size, crc = HEADER.unpack(head)
                    body = self._read(sock, size)
                    if len(body) < size:
                        break
                    name = lambda s: s.rstrip(b"\0").decode()  # noqa: E731
                    stamp = seconds + fraction / 2**32
                    self.messages.append(Message(version, name(kind), name(device), stamp, body, crc64(body) == crc))
            except ConnectionError:
                pass

    def stop(self) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(3)
