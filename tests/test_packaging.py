"""pyproject.toml: the extras a board, a workstation and a developer install, the console script, the model."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def names(extra: str) -> set[str]:
    """Distribution names an extra lists directly (normalised), without versions, markers or extras."""
    return {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-") for req in EXTRAS[extra]}


def test_edge_extra_is_the_runtime_only():
    assert names("edge") == {"ai-edge-litert", "numpy", "opencv-python-headless"}


def test_no_base_dependencies():
    assert PYPROJECT["project"].get("dependencies", []) == []


def test_train_extra():
    assert {"tensorflow", "tf-keras", "tensorflow-model-optimization"} <= names("train")
    assert "tlfseg[edge]" in EXTRAS["train"]


def test_pi_extra():
    assert "picamera2" in names("pi")
    assert "tlfseg[edge]" in EXTRAS["pi"]


def test_dev_extra():
    assert "pytest" in names("dev")


def test_tensorflow_only_in_train():
    for extra in EXTRAS:
        if extra not in ("train", "dev"):
            assert not names(extra) & {"tensorflow", "tf-keras", "keras", "tensorflow-model-optimization"}, extra


def test_clinic_is_packaged_with_its_extra_and_entry_point():
    assert PYPROJECT["project"]["entry-points"]["tlfseg.commands"]["clinic"] == "clinic.cli:register"
    assert "clinic*" in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert names("dicom") == {"tlfseg", "pydicom", "highdicom"} and "tlfseg[edge]" in EXTRAS["dicom"]
    assert "dicom" in EXTRAS["dev"][0] and not names("edge") & {"pydicom", "highdicom"}


def test_pacs_extra():
    assert names("pacs") == {"tlfseg", "pynetdicom"} and "tlfseg[dicom]" in EXTRAS["pacs"]
    assert "pacs" in EXTRAS["dev"][0] and "pynetdicom" not in names("dicom")


def test_igtl_extra():
    assert names("igtl") == {"tlfseg", "pyigtl"} and "igtl" in EXTRAS["dev"][0] and "pyigtl" not in names("edge")


def test_console_script_and_model_data():
    assert PYPROJECT["project"]["scripts"]["tlfseg"] == "edge.tools.cli:main"
    assert "models/*.tflite" in PYPROJECT["tool"]["setuptools"]["package-data"]["edge"]
    assert (PROJECT_ROOT / "edge" / "models" / "tlfseg_unet_int8.tflite").is_file()


def test_installed_console_script_runs():
    from edge import __version__

    script = Path(sys.executable).with_name("tlfseg")
    if not script.exists():
        pytest.skip(f"the project is not installed in this environment (no {script})")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"tlfseg {__version__}"
    assert PYPROJECT["project"]["version"] == __version__
