"""`tlfseg export --send AE@HOST:PORT [--retry]`: a visit to DCMTK's storescp on loopback, through refusals and a
dropped link, every file stored exactly once and none lost."""

import sys

import pydicom
import pytest
from net_support import free_port
from storescp_support import DroppingLink, Storescp, loopback_bind  # noqa: F401  (a fixture)

from clinic.dicom.send import Peer

pytest.importorskip("pynetdicom")


@pytest.fixture
def archive(tmp_path, loopback_bind):  # noqa: F811
    """Start storescp archives (`start(*options)`), all stopped at the end."""
    started = []

    def start(*options: str) -> Storescp:
        started.append(Storescp(loopback_bind, tmp_path / f"pacs{len(started)}", *options))
        return started[-1]

    yield start
    for scp in started:
        scp.stop()


@pytest.fixture
def export(tmp_path, recordings, clinic_cli):
    """`tlfseg export` of the visit's two sides (`send`: the --send options, the outbox in tmp_path); returns (exit
    code, the SOP Instance UIDs written)."""

    def run(*send: str, out: str = "dicom") -> tuple[int, list[str]]:
        folders = [str(recordings / "visit2-left"), str(recordings / "visit2-right")]
        outbox = ["--outbox", str(tmp_path / "outbox")] if "--send" in send else []
        argv = ["export", "--dicom", str(tmp_path / out), *folders, *outbox, *send]
        code = clinic_cli(argv)
        written = [pydicom.dcmread(p).SOPInstanceUID for p in sorted((tmp_path / out).glob("*.dcm"))]
        return code, sorted(written)

    return run


def retry(clinic_cli, tmp_path, address: str) -> int:
    return clinic_cli(["export", "--send", address, "--retry", "--outbox", str(tmp_path / "outbox")])


def waiting(tmp_path) -> int:
    return len(list((tmp_path / "outbox").glob("*.dcm")))


def test_a_visit_goes_to_the_archive_once(archive, export, tmp_path, clinic_cli, capsys):
    pacs = archive()
    code, written = export("--send", pacs.address, "--calling-ae", "FIELD-01")
    assert code == 0 and len(written) == 7
    assert f"sent 7 of 7 file(s) to {pacs.address}" in capsys.readouterr().out
    assert pacs.received() == written and waiting(tmp_path) == 0  # each object once, the outbox empty
    assert retry(clinic_cli, tmp_path, pacs.address) == 0
    assert "is empty: nothing to send" in capsys.readouterr().out
    assert pacs.received() == written  # nothing sent twice


def test_an_archive_that_refuses_keeps_every_file_for_later(archive, export, tmp_path, clinic_cli, capsys):
    refusing = archive("--refuse")
    code, written = export("--send", refusing.address)
    assert code == 1 and len(written) == 7  # the export is written; the send failed
    err = capsys.readouterr().err
    assert f"{refusing.address} refused the association" in err
    assert f"7 file(s) kept in {tmp_path / 'outbox'}" in err and f"--send {refusing.address} --retry" in err
    assert refusing.received() == [] and waiting(tmp_path) == 7
    pacs = archive()
    assert retry(clinic_cli, tmp_path, pacs.address) == 0
    assert pacs.received() == written and waiting(tmp_path) == 0


def test_a_link_that_drops_mid_study_loses_nothing_and_sends_nothing_twice(
    archive, export, tmp_path, clinic_cli, capsys
):
    pacs = archive()
    _, written = export(out="offline")  # exported offline first: the sizes tell where the third image's bytes are
    sizes = [p.stat().st_size for p in sorted((tmp_path / "offline").glob("*.dcm"))]
    link = DroppingLink(pacs.port, after=sizes[0] + sizes[1] + sizes[2] // 2)  # in the middle of the third image
    code, written = export("--send", f"PACS@127.0.0.1:{link.port}")
    link.join()
    assert code == 1 and "ended after 2 file(s)" in capsys.readouterr().err
    assert len(pacs.received()) == 2 and waiting(tmp_path) == 5
    assert retry(clinic_cli, tmp_path, pacs.address) == 0
    assert "sent 5 of 5 file(s)" in capsys.readouterr().out
    assert pacs.received() == written and waiting(tmp_path) == 0  # all 7, each once


def test_no_archive_there_keeps_the_files(export, tmp_path, capsys):
    code, written = export("--send", f"PACS@127.0.0.1:{free_port()}")
    assert code == 1 and waiting(tmp_path) == 7
    assert "no association with PACS@127.0.0.1" in capsys.readouterr().err


def test_send_options_are_checked_before_anything_is_written(export, tmp_path, clinic_cli, capsys, monkeypatch):
    for bad, message in [
        ("PACS@127.0.0.1", "--send must be AE@HOST:PORT"),
        ("A-TITLE-LONGER-THAN-16@h:104", "must be an AE title of 1 to 16"),
    ]:
        assert export("--send", bad) == (1, [])
        assert message in capsys.readouterr().err
    assert export("--send", "PACS@h:104", "--calling-ae", "back\\slash") == (1, [])
    assert "--calling-ae must be an AE title" in capsys.readouterr().err
    assert not (tmp_path / "outbox").exists()
    assert clinic_cli(["export", "--retry", "--outbox", str(tmp_path / "o")]) == 1
    assert "--retry sends what waits in the outbox" in capsys.readouterr().err
    assert export("--calling-ae", "X") == (1, [])
    assert "--outbox and --calling-ae are for --send" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pynetdicom", None)  # import fails as where it is not installed
    assert export("--send", "PACS@h:104") == (2, [])
    err = capsys.readouterr().err.strip()
    assert err == "tlfseg export needs the 'pacs' extra (pynetdicom is not installed): pip install 'tlfseg[pacs]'"


def test_peer_addresses():
    assert Peer.parse("PACS@10.0.0.5:104") == Peer("PACS", "10.0.0.5", 104)
    assert Peer.parse("MY AE@[::1]:11112") == Peer("MY AE", "::1", 11112)
    assert str(Peer.parse("PACS@pacs.local:104")) == "PACS@pacs.local:104"
    for bad in ("PACS:104", "@h:104", "PACS@h:0", "PACS@h:x", "   @h:104"):
        with pytest.raises(ValueError):
            Peer.parse(bad)
