"""Loopback ports for the tests' servers, and where a port is listening (the kernel's own tables)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}  #: 127.0.0.1 and ::1, as /proc/net/tcp* writes them


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) with a socket listening on `port`."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                out.add(address)
    return out
