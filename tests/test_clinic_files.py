"""`clinic.files.written`: a file whole or not at all, and never over another one, with or without hard links."""

import errno
import os

import pytest

from clinic.files import part, written


@pytest.mark.parametrize("links", [True, False], ids=["hard links", "FAT: no hard links"])
def test_a_name_taken_while_writing_keeps_its_file(tmp_path, monkeypatch, links):
    if not links:

        def no_link(*_):
            raise PermissionError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "SR.dcm"
    with written(target) as tmp:
        tmp.write_bytes(b"mine")
    assert target.read_bytes() == b"mine"
    with pytest.raises(FileExistsError, match="nothing is written over"), written(tmp_path / "new.dcm") as tmp:
        tmp.write_bytes(b"second")
        (tmp_path / "new.dcm").write_bytes(b"theirs")  # another process, a moment before this one is done
    assert (tmp_path / "new.dcm").read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SR.dcm", "new.dcm"]  # no temporary left


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), written(tmp_path / "r.html") as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    assert part(tmp_path / "r.html").name == f".r.html.{os.getpid()}.part"
