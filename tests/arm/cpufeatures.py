"""What CPU a process runs on, as the kernel (or qemu-user) tells it: aarch64 hwcaps and the CPU part.

Standard library only, so that it runs quickly under emulation before anything heavy is imported.
"""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path

# Linux arm64 AT_HWCAP / AT_HWCAP2 bit names, in bit order (arch/arm64/include/uapi/asm/hwcap.h).
HWCAP_NAMES = (  # noqa: SIM905
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop "
    "sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg"
).split()
HWCAP2_NAMES = (  # noqa: SIM905
    "dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm svebf16 "
    "i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme sme_i16i64 sme_f64f64 sme_i8i32 sme_f16f32 sme_b16f32 "
    "sme_f32f32 sme_fa64 wfxt ebf16 sve_ebf16 cssc rprfm sve2p1 sme2 sme2p1 sme_i16i32 sme_bi32i32 sme_b16b16 "
    "sme_f16f16 mops hbc"
).split()
AT_HWCAP, AT_HWCAP2 = 16, 26


def decode_hwcaps(hwcap: int, hwcap2: int) -> list[str]:
    """Feature names of the AT_HWCAP / AT_HWCAP2 bits set, as /proc/cpuinfo lists them."""
    names = [n for bit, n in enumerate(HWCAP_NAMES) if hwcap >> bit & 1]
    return names + [n for bit, n in enumerate(HWCAP2_NAMES) if hwcap2 >> bit & 1]


def cpu_features() -> dict:
    """What this process's CPU offers: the aarch64 hwcaps (from the auxiliary vector) and what
    /proc/cpuinfo names it (CPU part on ARM, model name on x86)."""
    info: dict = {"machine": platform.machine()}
    if info["machine"] == "aarch64":
        getauxval = ctypes.CDLL(None).getauxval
        getauxval.restype = ctypes.c_ulong
        info["features"] = decode_hwcaps(getauxval(AT_HWCAP), getauxval(AT_HWCAP2))
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return info
    for key in ("CPU part", "model name"):
        values = sorted({ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(key)})
        if values:
            info[key.replace(" ", "_").lower()] = values
    return info
