import ctypes

import pytest

from mmmo import native
from mmmo.native import NativeLibrary

pytestmark = pytest.mark.skipif(native._compiler() is None, reason="no C compiler")


def _declare(library):
    library.twice.restype = ctypes.c_int
    library.twice.argtypes = [ctypes.c_int]


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "twice.c"
    path.write_text("int twice(int x) { return 2 * x; }\n")
    return path


def test_builds_once_and_loads_the_cached_library_after(source, monkeypatch):
    assert NativeLibrary(source, "the test kernel", _declare).load().twice(21) == 42
    built = list((source.parent / "cache" / "kernels").glob("*/twice.so"))
    assert len(built) == 1
    monkeypatch.setattr(NativeLibrary, "_build", lambda *a: pytest.fail("built twice"))
    assert NativeLibrary(source, "the test kernel", _declare).load().twice(4) == 8


def test_a_changed_source_is_built_again(source):
    NativeLibrary(source, "the test kernel", _declare).load()
    source.write_text("int twice(int x) { return x + x + 0; }\n")
    NativeLibrary(source, "the test kernel", _declare).load()
    assert len(list((source.parent / "cache" / "kernels").glob("*/twice.so"))) == 2


def test_mmmo_native_0_turns_it_off_and_reset_tries_again(source, monkeypatch):
    library = NativeLibrary(source, "the test kernel", _declare)
    monkeypatch.setenv("MMMO_NATIVE", "0")
    assert not library.available()
    monkeypatch.delenv("MMMO_NATIVE")
    assert not library.available()  # the answer is kept until reset
    library.reset()
    assert library.available()


def test_a_source_that_does_not_compile_is_named_in_the_warning(source, caplog):
    source.write_text("int twice(int x) { return 2 * ; }\n")
    with caplog.at_level("WARNING", logger="mmmo.native"):
        assert NativeLibrary(source, "the test kernel", _declare).load() is None
    assert "could not compile the test kernel" in caplog.text and "twice.c" in caplog.text
