"""Byte links the protocol runs over: TCP, Unix sockets and serial ports (pyserial).

A `Link` moves bytes and nothing else: ``recv`` waits at most ``timeout`` seconds (None: nothing came,
b"": the peer is gone), ``send`` writes everything or raises OSError (a peer that stops reading for
``send_timeout`` seconds is treated as gone).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import socket
import stat
from dataclasses import dataclass
from typing import Protocol

DEFAULT_PORT = 5599
DEFAULT_BAUD = 115200
RECV_CHUNK = 256 * 1024


class Link(Protocol):
    name: str

    def recv(self, timeout: float) -> bytes | None: ...

    def send(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Endpoint:
    """Where to listen or connect: ``tcp://HOST:PORT``, ``unix:PATH`` or ``serial:DEVICE[,BAUD]``."""

    kind: str  #: "tcp", "unix" or "serial"
    host: str = ""
    port: int = 0
    path: str = ""  #: socket path or serial device
    baud: int = DEFAULT_BAUD

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        if text.startswith("tcp://"):
            host, sep, port = text[len("tcp://") :].rpartition(":")
            if not sep or not port.isdigit() or int(port) > 65535:
                raise ValueError(f"transport {text!r}: expected tcp://HOST:PORT (port 0-65535)")
            return cls("tcp", host=host.strip("[]") or "127.0.0.1", port=int(port))
        if text.startswith("unix:"):
            path = text[len("unix:") :].removeprefix("//")
            if not path:
                raise ValueError(f"transport {text!r}: expected unix:PATH")
            return cls("unix", path=path)
        if text.startswith("serial:"):
            device, _, baud = text[len("serial:") :].partition(",")
            if not device or (baud and not baud.isdigit()):
                raise ValueError(f"transport {text!r}: expected serial:DEVICE[,BAUD]")
            return cls("serial", path=device, baud=int(baud) if baud else DEFAULT_BAUD)
        raise ValueError(f"transport {text!r}: expected tcp://HOST:PORT, unix:PATH or serial:DEVICE[,BAUD]")

    @property
    def loopback(self) -> bool:
        if self.kind != "tcp":
            return True
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        if self.kind == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp://{host}:{self.port}"
        if self.kind == "unix":
            return f"unix:{self.path}"
        return f"serial:{self.path},{self.baud}"


class SocketLink:
    """A connected TCP or Unix stream socket."""

    def __init__(self, sock: socket.socket, name: str, send_timeout: float = 10.0) -> None:
        self.sock, self.name = sock, name
        sock.settimeout(send_timeout)  # bounds sendall; recv only runs once select says data is there
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def recv(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        try:
            return self.sock.recv(RECV_CHUNK)
        except (ConnectionResetError, TimeoutError):
            return b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class SerialLink:
    """A serial port through pyserial: 8 data bits, no parity, 1 stop bit, no flow control, raw bytes."""

    def __init__(self, device: str, baud: int = DEFAULT_BAUD, send_timeout: float = 10.0) -> None:
        import serial

        self.name = f"serial:{device}"
        self._serial_error = serial.SerialException
        try:
            self.port = serial.Serial(device, baud, timeout=0, write_timeout=send_timeout, exclusive=True)
        except serial.SerialException as exc:
            raise OSError(f"cannot open serial port {device}: {exc}") from None

    def recv(self, timeout: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self.port.fileno()], [], [], timeout)
            if not ready:
                return None
            return self.port.read(max(1, self.port.in_waiting)) or None
        except (self._serial_error, OSError):
            return b""  # unplugged

    def send(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except self._serial_error as exc:
            raise OSError(f"{self.name}: write failed: {exc}") from None

    def close(self) -> None:
        self.port.close()


def connect(endpoint: Endpoint, timeout: float = 5.0) -> Link:
    """A link to a listening runtime (TCP, Unix) or an open serial port."""
    if endpoint.kind == "serial":
        return SerialLink(endpoint.path, endpoint.baud)
    if endpoint.kind == "tcp":
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(endpoint.path)
        except OSError:
            sock.close()
            raise
    return SocketLink(sock, str(endpoint))


class Listener:
    """A listening TCP or Unix socket; `accept` hands out one `SocketLink` per client."""

    def __init__(self, endpoint: Endpoint, backlog: int = 8) -> None:
        if endpoint.kind == "tcp":
            family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            address: object = (endpoint.host, endpoint.port)
        else:
            self._remove_stale(endpoint.path)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = endpoint.path
        try:
            self.sock.bind(address)
            self.sock.listen(backlog)
        except OSError:
            self.sock.close()
            raise
        #: the socket file this listener made (device, inode): the only thing at the path it ever removes
        self._made = _identity(endpoint.path) if endpoint.kind == "unix" else None
        if endpoint.kind == "tcp":
            host, port = self.sock.getsockname()[:2]
            endpoint = Endpoint("tcp", host=host, port=port)
        self.endpoint = endpoint

    @staticmethod
    def _remove_stale(path: str) -> None:
        """A socket file left by a runtime that died is removed; a live one (or any other file) is an error."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise OSError(f"{path} exists and is not a socket: not removed, choose another path")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)
            return
        except OSError as exc:
            raise OSError(f"{path} exists and is not a socket a runtime left behind ({exc})") from None
        finally:
            probe.close()
        raise OSError(f"{path}: another runtime is already listening there")

    def accept(self, timeout: float) -> SocketLink | None:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        sock, peer = self.sock.accept()
        name = f"{self.endpoint} peer {peer}" if peer else str(self.endpoint)
        return SocketLink(sock, name)

    def close(self) -> None:
        """Stop listening; a Unix socket file is removed only if it is still the one this listener made (not a file put
        there since, nor the socket of another runtime that took the path over)."""
        self.sock.close()
        if self._made is not None and _identity(self.endpoint.path) == self._made:
            with contextlib.suppress(OSError):
                os.unlink(self.endpoint.path)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the socket file at `path`; None where there is none (or something else is there)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None
