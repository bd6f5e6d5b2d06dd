from pathlib import Path

import pytest

import mmmo.resources as resources
from mmmo.config import load_space


def test_checkout_folders_are_found_without_a_packaged_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "PACKAGED_DATA", tmp_path / "absent")
    assert resources.presets_dir() == resources.REPO_ROOT / "search_spaces"
    assert (resources.zoo_tasks_dir() / "zoo_shift2.yaml").is_file()


def test_packaged_copy_wins(tmp_path, monkeypatch):
    (tmp_path / "search_spaces").mkdir()
    monkeypatch.setattr(resources, "PACKAGED_DATA", tmp_path)
    assert resources.presets_dir() == tmp_path / "search_spaces"
    assert resources.zoo_tasks_dir() == resources.REPO_ROOT / "objectives" / "zoo"  # no packaged copy of it


def test_every_preset_loads():
    names = sorted(p.stem for p in resources.presets_dir().glob("*.yaml"))
    assert "dare_ties" in names
    for name in names:
        assert load_space(name).methods


def test_unknown_folder_is_refused():
    with pytest.raises(ValueError, match="not a shipped folder"):
        resources.shipped_folder(Path("tests").name)
