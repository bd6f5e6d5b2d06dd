"""Item: compiled kernels are loaded only from folders of this user that no one else can write."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys

import pytest

from mmmo import native
from mmmo.native import NativeLibrary

pytestmark = pytest.mark.skipif(native._compiler() is None, reason="no C compiler")


def _declare(library):
    library.twice.restype = ctypes.c_int
    library.twice.argtypes = [ctypes.c_int]


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A cached kernel replaced by another library (it triples), as a hostile co-user could."""
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_private_dir", None)
    source = tmp_path / "twice.c"
    source.write_text("int twice(int x) { return 2 * x; }\n")
    # Built by another process: dlopen keeps a library once loaded, so this one must not load it first.
    build = (
        "from pathlib import Path; from mmmo.native import NativeLibrary; "
        f"NativeLibrary(Path({str(source)!r}), 'k', lambda lib: None).load()"
    )
    subprocess.run([sys.executable, "-c", build], check=True, env={**os.environ, "MMMO_CACHE": str(tmp_path / "cache")})
    (cached,) = (tmp_path / "cache" / "kernels").glob("*/twice.so")
    evil = tmp_path / "evil.c"
    evil.write_text("int twice(int x) { return 3 * x; }\n")
    subprocess.run([native._compiler(), "-shared", "-fPIC", str(evil), "-o", str(cached)], check=True)
    yield source, cached
    private = native._private_dir
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)


def test_a_kernel_folder_others_can_write_is_not_loaded_from(planted, caplog):
    source, cached = planted
    cached.parent.chmod(0o777)
    with caplog.at_level("WARNING", logger="mmmo.native"):
        library = NativeLibrary(source, "the test kernel", _declare).load()
    assert library.twice(2) == 4  # rebuilt privately, the planted library never loaded
    assert "private folder" in caplog.text
    assert native._private_dir is not None and (native._private_dir.stat().st_mode & 0o077) == 0


def test_a_kernel_owned_by_another_user_is_not_loaded(planted):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    source, cached = planted
    os.chown(cached, 4242, -1)
    assert NativeLibrary(source, "the test kernel", _declare).load().twice(2) == 4


def test_a_private_cache_is_used_as_it_is(planted):
    source, cached = planted
    # The planted file in a folder that is this user's own is trusted: that is the contract.
    assert NativeLibrary(source, "the test kernel", _declare).load().twice(2) == 6
