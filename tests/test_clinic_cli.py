"""The clinic commands plug into `tlfseg` through the entry-point group; without the dicom extra: one line."""

import sys

import pytest


def test_commands_registered(clinic_cli, capsys):
    with pytest.raises(SystemExit):
        clinic_cli(["--help"])
    out = capsys.readouterr().out
    assert "export" in out and "report" in out


def test_export_without_the_dicom_extra_is_one_line(monkeypatch, tmp_path, recordings, clinic_cli, capsys):
    for name in [m for m in sys.modules if m.startswith(("clinic.dicom", "highdicom", "pydicom"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "highdicom", None)  # import fails as where it is not installed
    assert clinic_cli(["export", "--dicom", str(tmp_path / "d"), str(recordings / "pixels")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tlfseg export needs the 'dicom' extra (highdicom is not installed): pip install 'tlfseg[dicom]'"
    assert not (tmp_path / "d").exists()
