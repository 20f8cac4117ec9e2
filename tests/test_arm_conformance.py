"""ARM conformance (tests/arm): the comparison logic, the emulated board's CPU view, and a small emulated run.

The emulated run (one phantom frame and one real image on a Raspberry Pi 5 core under qemu) needs root,
qemu-user-static and the cached arm64 rootfs; it skips with the reason otherwise. Set
TLFSEG_ARM_BUILD=1 to let it build the rootfs (5-10 minutes, network). The full comparison is
``python tests/arm/conformance.py`` (result in benchmarks/results/arm_conformance.md).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "arm"))

import armroot  # noqa: E402
import conformance  # noqa: E402
from cpufeatures import decode_hwcaps  # noqa: E402

PI5, PI4 = armroot.CORES["cortex-a76"], armroot.CORES["cortex-a72"]


def test_compare_reports_where_a_difference_starts():
    x86 = np.zeros((6, 5, 3), np.int8)
    arm = x86.copy()
    assert conformance.compare(x86, arm) == {"identical": True, "of": 90}
    arm[4, 0, 2] = 3
    arm[2, 3, 1] = -7
    diff = conformance.compare(x86, arm)
    assert not diff["identical"]
    assert diff["differing"] == 2 and diff["of"] == 90
    assert diff["first_at"] == [2, 3, 1]  # raster order: row 2 comes before row 4
    assert (diff["x86_value"], diff["arm_value"], diff["max_abs_diff"]) == (0, -7, 7.0)
    shape = conformance.compare(x86, arm[:5])
    assert not shape["identical"] and shape["arm"] == "int8[5, 5, 3]"


def test_compare_is_bitwise_for_floats():
    x86 = np.array([0.0, 1.0, np.nan], np.float32)
    assert conformance.compare(x86, x86.copy())["identical"]  # NaN == NaN bit for bit
    assert conformance.compare(x86, np.array([-0.0, 1.0, np.nan], np.float32))["first_at"] == [0]


def _sides(name: str) -> tuple[dict, dict]:
    keys = ("delegate_out", "raw", "png", *conformance.STAGES)
    x86 = {f"{k}/{name}": np.arange(12, dtype=np.int8).reshape(3, 4) for k in keys}
    return x86, {k: v.copy() for k, v in x86.items()}


def test_compare_input_names_the_first_differing_stage():
    x86, arm = _sides("f")
    same = conformance.compare_input("f", x86, arm)
    assert same["identical"] and same["conformant"] and same["starts_at"] is None
    arm["tensor/f"][0, 0] = 9  # preprocessing differs: everything after it is suspect
    arm["labels/f"][1, 1] = 0
    result = conformance.compare_input("f", x86, arm)
    assert result["starts_at"] == "tensor" and not result["conformant"]
    assert result["engine_starts_at"] is None  # the engine itself, on the same input, agreed


def test_a_one_step_difference_after_xnnpack_is_located_and_tolerated():
    x86, arm = _sides("f")
    arm["raw/f"][2, 1] += 1  # the final (non-XNNPACK) op rounds one value the other way
    arm["probs/f"][2, 1] += 1
    result = conformance.compare_input("f", x86, arm)
    assert not result["identical"] and result["conformant"]
    assert result["engine_starts_at"] == "final_op" and result["starts_at"] == "probs"
    assert result["raw"]["first_at"] == [2, 1]
    arm["labels/f"][0, 0] = 2  # ... but not once a label changes
    assert not conformance.compare_input("f", x86, arm)["conformant"]


def test_an_xnnpack_difference_is_never_tolerated():
    x86, arm = _sides("f")
    arm["delegate_out/f"][0, 3] += 1
    result = conformance.compare_input("f", x86, arm)
    assert result["engine_starts_at"] == "xnnpack" and not result["conformant"]
    x86, arm = _sides("f")
    arm["raw/f"][0, 0] += 2  # two steps off after XNNPACK: not a rounding tie
    assert not conformance.compare_input("f", x86, arm)["conformant"]


def test_an_artefact_one_side_did_not_produce_counts_as_a_difference():
    x86, arm = _sides("f")
    del arm["labels/f"], arm["delegate_out/f"]  # e.g. the label map failed there (the worker records why)
    result = conformance.compare_input("f", x86, arm)
    assert result["labels"] == {"identical": False, "missing_on": ["arm"]}
    assert result["engine_starts_at"] == "xnnpack" and result["starts_at"] == "labels"
    assert not result["conformant"]


def test_hwcaps_decode_like_the_kernel():
    assert decode_hwcaps(0, 0) == []
    assert decode_hwcaps(1 << 0 | 1 << 1 | 1 << 20, 0) == ["fp", "asimd", "asimddp"]
    assert decode_hwcaps(1 << 22, 1 << 1 | 1 << 13) == ["sve", "sve2", "i8mm"]


def test_cpuinfo_describes_the_pi_cores():
    assert PI5.midr == 0x414FD0B1 and PI4.midr == 0x410FD083
    text = armroot.cpuinfo_text(PI5, ["fp", "asimd", "asimddp"])
    assert text.count("processor\t:") == armroot.N_CPUS == 4
    assert text.count("CPU part\t: 0xd0b") == 4 and "CPU implementer\t: 0x41" in text
    assert "Features\t: fp asimd asimddp\n" in text and "Raspberry Pi 5" in text
    assert "CPU part\t: 0xd08" in armroot.cpuinfo_text(PI4, ["fp", "asimd"])


def test_sysfs_topology_is_a_single_four_core_cluster():
    files = armroot.sysfs_files(PI4)
    assert files["devices/system/cpu/possible"] == files["devices/system/cpu/present"] == "0-3"
    assert files["devices/system/cpu/cpu3/cpufreq/cpuinfo_max_freq"] == "1800000"
    assert files["devices/system/cpu/cpu2/topology/thread_siblings_list"] == "2"
    assert files["devices/system/cpu/cpu0/regs/identification/midr_el1"] == "0x00000000410fd083"
    assert not any("cpu4" in path for path in files)


def test_the_page_is_written_from_the_kept_result():
    page = conformance.DEFAULT_OUT
    raw = page.parent / "raw" / "arm_conformance.json"
    text = conformance.face(json.loads(raw.read_text()), raw)
    assert text == page.read_text()
    assert "the x86 side on " in text and "| bookworm cortex-a76 (Raspberry Pi 5) | " in text


def test_real_images_are_spread_over_the_layouts(real_data_dir):
    picked = conformance.pick_real(real_data_dir, 4)
    layouts = [layout for _, layout in picked]
    # one image of each layout, the most common first (the set has 3 main layouts and 2 one-offs)
    assert layouts[:3] == ["660x556c", "512x512g", "1234x688c"] and len(set(layouts)) == 4
    assert len({path for path, _ in picked}) == 4


@pytest.fixture(scope="module")
def emulated_board() -> None:
    root = armroot.RootFS("bookworm")
    if root.missing() and os.environ.get("TLFSEG_ARM_BUILD") == "1" and os.geteuid() == 0:
        root.build()  # also installs debootstrap and qemu-user-static where they are missing
    reason = armroot.unavailable()
    if reason:
        pytest.skip(f"cannot emulate an ARM board here: {reason}")
    missing = root.missing()
    if missing:
        pytest.skip(f"{missing}; or set TLFSEG_ARM_BUILD=1 to build it here")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_emulated_pi5_gives_the_same_bytes_as_x86(emulated_board):
    result = conformance.run_conformance(["cortex-a76"], ("bookworm",), n_phantom=1, n_real=1, log=lambda line: None)
    core = result["suites"]["bookworm"]["cores"]["cortex-a76"]
    assert "error" not in core, core.get("output_tail")
    assert core["errors"] == {}
    # it really ran the Pi 5 core model: aarch64, dot product, no SVE / i8mm (which `-cpu max` would add)
    assert core["side"]["cpu"]["machine"] == "aarch64" and core["side"]["cpu"]["cpu_part"] == ["0xd0b"]
    assert "asimddp" in core["features"] and core["no_sve_i8mm"]
    # both sides on the XNNPACK path with the same runtime and model
    assert core["xnnpack_delegate"] and result["x86"]["xnnpack_delegate"]
    assert core["side"]["runtime"] == result["x86"]["runtime"] and core["side"]["runtime"].startswith("ai-edge-litert")
    assert core["side"]["model_sha256"] == result["x86"]["model_sha256"]
    # the XNNPACK part and every label map byte-identical; a final op LiteRT runs itself (an int8 softmax)
    # may round a value one step differently on ARM
    assert core["side"]["final_op"] == result["x86"]["final_op"]
    if core["side"]["final_op"] is None:  # the whole graph on XNNPACK: the same raw bytes and labels;
        for diff in core["differences"]:  # only the runtime's float softmax may round an ulp apart
            assert diff["raw"]["identical"] and diff["labels"]["identical"] and diff["cli"]["identical"], diff
            assert diff["probs"]["identical"] or diff["probs"]["max_abs_diff"] <= 1e-6, diff
    else:
        for diff in core["differences"]:
            assert diff["xnnpack"]["identical"] and diff["labels"]["identical"] and diff["cli"]["identical"], diff
            assert diff["engine_starts_at"] == "final_op" and diff["raw"]["max_abs_diff"] == 1, diff
            assert diff["raw"]["differing"] < 1e-3 * diff["raw"]["of"], diff
    assert core["conformant"] and result["conformant"]
    inputs = result["inputs"]["phantom"] + result["inputs"]["real"]  # no real image where the data set is absent
    assert sum(s["inputs"] for s in core["sets"].values()) == len(inputs) and len(result["inputs"]["phantom"]) == 1
