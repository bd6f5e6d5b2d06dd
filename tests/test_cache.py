import importlib
import os

import mmmo.cache


def test_cache_dir_honours_override(tmp_path, monkeypatch):
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path / "c"))
    assert mmmo.cache.cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()


def test_configure_environment_keeps_user_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HOME", "/somewhere/else")
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)
    importlib.reload(mmmo.cache).configure_environment()
    assert os.environ["HF_HOME"] == "/somewhere/else"
    assert os.environ["TORCH_EXTENSIONS_DIR"] == str(tmp_path / "torch_extensions")
