"""The emulated Raspberry Pi: a cached Debian arm64 rootfs run under qemu-user with a pinned CPU model.

One rootfs per Debian suite: bookworm (Debian 12, Python 3.11: Raspberry Pi OS bookworm's base) and
trixie (Debian 13, Python 3.13: Raspberry Pi OS trixie's base), built by make_rootfs.sh.

Programs run as ``chroot ROOT qemu-aarch64-static -cpu CORE PROGRAM`` (qemu called explicitly, never
through binfmt, which would pick ``-cpu max`` with SVE and i8mm), inside a private mount namespace
(``unshare -m``) where /proc/cpuinfo is an ARM one for that core and /sys holds a small 4-core
topology on a tmpfs: LiteRT (cpuinfo) reads both at the first ``invoke()`` and crashes on the x86
host's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAKE_ROOTFS = HERE / "make_rootfs.sh"
VENV_PYTHON = "/opt/tlfseg-venv/bin/python"
SRC = "/opt/tlfseg/src"
QEMU = "qemu-aarch64-static"
READY = ".tlfseg-ready"
N_CPUS = 4  # every Pi 4 / Pi 5 has four cores


@dataclass(frozen=True)
class Core:
    """An emulated core as a board's kernel describes it."""

    qemu_cpu: str
    board: str
    implementer: int
    variant: int
    part: int
    revision: int
    max_khz: int
    min_khz: int
    model: str  #: the "Model" line of a Raspberry Pi's /proc/cpuinfo

    @property
    def midr(self) -> int:
        return self.implementer << 24 | self.variant << 20 | 0xF << 16 | self.part << 4 | self.revision


CORES = {
    c.qemu_cpu: c
    for c in (
        Core(
            "cortex-a76", "Raspberry Pi 5", 0x41, 0x4, 0xD0B, 1, 2_400_000, 1_500_000, "Raspberry Pi 5 Model B Rev 1.0"
        ),
        Core("cortex-a72", "Raspberry Pi 4", 0x41, 0x0, 0xD08, 3, 1_800_000, 600_000, "Raspberry Pi 4 Model B Rev 1.4"),
    )
}


def cache_dir() -> Path:
    return Path(os.environ.get("TLFSEG_ARM_CACHE") or Path.home() / ".cache" / "tlfseg-arm")


#: what a board without ai-edge-litert wheels (32-bit Pi OS) runs: the last tflite-runtime release
FALLBACK_RUNTIME = ("tflite-runtime==2.14.0", "numpy<2", "opencv-python-headless>=4.10,<5")


def fallback_python() -> str:
    """An x86 venv (cached) with tflite-runtime instead of ai-edge-litert; returns its python."""
    venv = cache_dir() / "venv-tflite-runtime"
    ready = venv / ".tlfseg-ready"
    if not ready.is_file() or ready.read_text().split() != list(FALLBACK_RUNTIME):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--only-binary=:all:", *FALLBACK_RUNTIME]
        subprocess.run(["nice", "-n", "10", *pip], check=True)
        ready.write_text("\n".join(FALLBACK_RUNTIME))
    return str(venv / "bin" / "python")


def unavailable() -> str | None:
    """Why this machine cannot run the emulated board now (None if it can), short of building the rootfs."""
    if os.geteuid() != 0:
        return "needs root (chroot and mounts in a private mount namespace)"
    for tool in ("unshare", "chroot", QEMU):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install qemu-user-static util-linux coreutils)"
    return None


@contextmanager
def locked() -> Iterator[None]:
    """Hold the rootfs for one run (another process waits)."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def cpuinfo_text(core: Core, features: list[str]) -> str:
    """/proc/cpuinfo as a Raspberry Pi's 64-bit kernel writes it, with the emulated CPU's features."""
    block = (
        "processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: {impl:#x}\n"
        "CPU architecture: 8\nCPU variant\t: {var:#x}\nCPU part\t: {part:#05x}\nCPU revision\t: {rev}\n\n"
    )
    text = "".join(
        block.format(
            i=i, features=" ".join(features), impl=core.implementer, var=core.variant, part=core.part, rev=core.revision
        )
        for i in range(N_CPUS)
    )
    return text + f"Model\t\t: {core.model}\n"


def sysfs_files(core: Core) -> dict[str, str]:
    """The files of a small /sys/devices/system/cpu for `core` (relative path -> content)."""
    span = f"0-{N_CPUS - 1}"
    files = {f"devices/system/cpu/{name}": span for name in ("possible", "present", "online")}
    files["devices/system/cpu/kernel_max"] = str(N_CPUS - 1)
    for i in range(N_CPUS):
        cpu = f"devices/system/cpu/cpu{i}"
        files |= {
            f"{cpu}/online": "1",
            f"{cpu}/cpufreq/cpuinfo_max_freq": str(core.max_khz),
            f"{cpu}/cpufreq/cpuinfo_min_freq": str(core.min_khz),
            f"{cpu}/regs/identification/midr_el1": f"{core.midr:#018x}",
            f"{cpu}/topology/physical_package_id": "0",
            f"{cpu}/topology/cluster_id": "0",
            f"{cpu}/topology/core_id": str(i),
            f"{cpu}/topology/core_siblings_list": span,
            f"{cpu}/topology/package_cpus_list": span,
            f"{cpu}/topology/cluster_cpus_list": span,
            f"{cpu}/topology/thread_siblings_list": str(i),
            f"{cpu}/topology/core_cpus_list": str(i),
        }
    return files


def write_cpu_view(core: Core, features: list[str], dest: Path) -> Path:
    """Write ``dest/cpuinfo`` and ``dest/sys/...`` for `core`; return `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "sys").mkdir(parents=True)
    (dest / "cpuinfo").write_text(cpuinfo_text(core, features))
    for rel, content in sysfs_files(core).items():
        path = dest / "sys" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    return dest


# Runs as root in a fresh private mount namespace; every mount disappears with it.
_MOUNT_AND_RUN = r"""
set -e
root=$1 view=$2; shift 2
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
if [ -n "$view" ]; then
    mount --bind "$view/cpuinfo" "$root/proc/cpuinfo"
    mount -t tmpfs -o size=1m,mode=755 tmpfs "$root/sys"
    cp -a "$view/sys/." "$root/sys/"
fi
exec chroot "$root" "$@"
"""


#: run under qemu: print the CPU features the process sees (cpufeatures.py, stdlib only, imports fast)
_PROBE = "import sys; sys.path.insert(0, sys.argv[1]); import cpufeatures as c; print(*c.cpu_features()['features'])"


@dataclass(frozen=True)
class RootFS:
    """The cached arm64 root filesystem of one Debian suite."""

    suite: str = "bookworm"

    @property
    def path(self) -> Path:
        return cache_dir() / f"rootfs-{self.suite}-arm64"

    def missing(self) -> str | None:
        """Why this rootfs cannot be used (None if it is ready)."""
        if not (self.path / READY).is_file():
            return (
                f"no {self.suite} arm64 rootfs cached at {self.path}: "
                f"build it with tests/arm/make_rootfs.sh build {self.suite} (about 5-10 minutes)"
            )
        if not (self.path / VENV_PYTHON.lstrip("/")).exists():
            return f"{self.path} has no venv at {VENV_PYTHON}: delete it and rebuild"
        return None

    def _script(self, action: str) -> None:
        subprocess.run(["bash", str(MAKE_ROOTFS), action, self.suite], check=True)

    def build(self) -> None:
        """Build the rootfs (idempotent: done steps are skipped)."""
        self._script("build")

    def sync_project(self) -> None:
        """Copy the current working tree (code, bundled model) into the rootfs."""
        self._script("sync")

    def command(self, core: Core, argv: list[str], view: Path | None = None) -> list[str]:
        """The host command that runs an aarch64 program of the rootfs on `core` (``argv[0]``: its path there).

        `view` is a directory from `write_cpu_view` (None: the host's /proc and no /sys, enough for programs
        that do not ask about the CPU). The program gets a clean environment.
        """
        env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"]
        cmd = [*env, "PYTHONDONTWRITEBYTECODE=1", "nice", "-n", "10", "unshare", "-m", "--propagation", "private"]
        cmd += ["--", "bash", "-c", _MOUNT_AND_RUN, "arm", str(self.path), str(view or "")]
        return [*cmd, f"/usr/bin/{QEMU}", "-cpu", core.qemu_cpu, *argv]

    def probe_features(self, core: Core) -> list[str]:
        """The feature names (hwcaps) that qemu gives a process on `core`."""
        argv = [VENV_PYTHON, "-c", _PROBE, f"{SRC}/tests/arm"]
        proc = subprocess.run(self.command(core, argv), capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"probing {core.qemu_cpu} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        return proc.stdout.split()

    def frozen_packages(self) -> list[str]:
        """The Python packages in the rootfs's venv, as pip froze them at build time."""
        path = self.path / ".tlfseg-freeze.txt"
        return path.read_text().split() if path.is_file() else []


def qemu_version() -> str:
    return subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
