"""DCMTK's `storescp` as the archive, on loopback only, and a link that drops: for the `--send` tests.

storescp (DCMTK 3.6.7) has no option for the address it listens on and takes every interface; a preloaded `bind`
(compiled here with the system's C compiler) moves its listening socket to 127.0.0.1, and each test checks in
/proc/net/tcp that it is listening there and nowhere else.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pydicom
import pytest
from net_support import LOOPBACK_HEX, free_port, listening

LOOPBACK_BIND = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
/* bind(): IPv4 and IPv6 listening sockets put on loopback, whatever address was asked for */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return real(fd, (const struct sockaddr *)&a, sizeof a);
    }
    if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        a.sin6_addr = in6addr_loopback;
        return real(fd, (const struct sockaddr *)&a, sizeof a);
    }
    return real(fd, addr, len);
}
"""


@pytest.fixture(scope="session")
def loopback_bind(tmp_path_factory) -> Path:
    """The preloadable library (skips without storescp or a C compiler)."""
    for tool, package in (("storescp", "dcmtk"), ("cc", "gcc")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install {package})")
    folder = tmp_path_factory.mktemp("loopback")
    (folder / "bind.c").write_text(LOOPBACK_BIND)
    lib = folder / "bind.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(folder / "bind.c"), "-ldl"], check=True, timeout=60)
    return lib


class Storescp:
    """`storescp` as AE `PACS` on a loopback port, every received object a file of its own (`+uf`: one sent twice
    shows as two files), an association a child process (`--fork`: a broken one does not hold up the next), for at
    most `life_s` seconds."""

    def __init__(self, lib: Path, folder: Path, *options: str, life_s: float = 120) -> None:
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        command = ["storescp", "--fork", "--aetitle", "PACS", "+uf", "-od", str(folder), "-ta", "10", "-td", "10"]
        self.process = subprocess.Popen(
            ["timeout", str(life_s), *command, *options, str(self.port)],
            env={**os.environ, "LD_PRELOAD": str(lib)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends it and its children, nothing else
        )
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"storescp did not start: {self.process.stderr.read().decode()[-300:]}")
            time.sleep(0.02)
        assert listening(self.port) <= LOOPBACK_HEX, listening(self.port)

    @property
    def address(self) -> str:
        return f"PACS@127.0.0.1:{self.port}"

    def received(self) -> list[str]:
        """SOP Instance UIDs of the objects stored, one per file written."""
        return sorted(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in self.folder.iterdir())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(10)
        self.process.stderr.close()


class DroppingLink:
    """A loopback relay to `port` that cuts the connection (a reset) once `after` bytes went towards the archive:
    the link dropping mid-study."""

    def __init__(self, port: int, after: int) -> None:
        self.target, self.after, self.forwarded = port, after, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.server.settimeout(30)
        client, _ = self.server.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target), timeout=30)
        back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
        back.start()
        try:
            while self.forwarded < self.after:
                data = client.recv(min(65536, self.after - self.forwarded))
                if not data:
                    break
                upstream.sendall(data)
                self.forwarded += len(data)
        except OSError:
            pass
        for s in (client, upstream):  # a reset, not a goodbye: SO_LINGER 0
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        self.server.close()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def join(self) -> None:
        self._thread.join(30)
