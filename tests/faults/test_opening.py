"""Item: campaign files are opened safely: odd names, read-only folders, foreign files, planted symlinks."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess

import pytest
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.errors import StoreError
from mmmo.store import CampaignStore, NewTrial


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", ["a#b.db", "what?.db", "100%.db", "sp ace%23.db"])
def test_names_with_uri_characters_open_read_only(tmp_path, name):
    folder = tmp_path / "dir#?%"
    folder.mkdir()
    path = folder / name
    with CampaignStore.create(path, "{}") as store:
        store.add_trials([NewTrial("sobol", seed=0, origin="searched")])
    before = _listing(tmp_path)
    with CampaignStore.open(path, readonly=True) as reader:
        assert len(reader.trials()) == 1
        with pytest.raises(StoreError, match="read-only"):
            reader.add_trials([NewTrial("sobol", seed=1, origin="searched")])
    # No stray database under a cut-short name: only the file itself and SQLite's own -wal/-shm beside it.
    assert [p for p in _listing(folder) if not p.startswith(name)] == []
    assert _listing(tmp_path) == before


@contextlib.contextmanager
def read_only_folder(folder):
    """Make ``folder`` read-only for this process: a read-only bind mount as root, else chmod."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"root cannot make a read-only folder here (mount: {mounted.stderr.decode().strip()})")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.decode().strip()}")
        yield
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)  # lazy: an open handle cannot strand the mount


def test_a_campaign_in_a_read_only_folder_is_inspectable_and_refused_for_writing(models, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "c.db"
    with Campaign.create(path, config_for(models, budget={"trials": 1, "initial": 1})) as campaign:
        campaign.run()
    (folder / "c.db.lock").unlink()
    before = _listing(folder)
    with read_only_folder(folder):
        with Campaign.open(path, readonly=True) as campaign:
            assert len(campaign.trials()) == 4 and not campaign.front().empty  # base, a, b and one searched
        status = mmmo("status", path)
        assert status.returncode == 0, status.stderr
        assert "1 complete of 1 budgeted" in status.stdout
        with pytest.raises(StoreError, match="read-only"):
            Campaign.open(path)
        result = mmmo("resume", path)
        assert_clean_error(result, 2, str(path), "read-only")
        assert _listing(folder) == before


@pytest.mark.parametrize("kind", ["empty", "foreign", "text"])
def test_resume_refuses_a_foreign_file_untouched(tmp_path, kind):
    path = tmp_path / "x.db"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign":
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE songs (title TEXT)")
        connection.execute("INSERT INTO songs VALUES ('la')")
        connection.commit()
        connection.close()
    else:
        path.write_text("hello, not a database\n")
    data, before = path.read_bytes(), _listing(tmp_path)
    with pytest.raises(StoreError, match="not an mmmo campaign|cannot open"):
        CampaignStore.open(path)
    assert_clean_error(mmmo("resume", path), 2, str(path))
    assert path.read_bytes() == data and _listing(tmp_path) == before  # no -wal, -shm or .lock


def test_a_planted_lock_symlink_is_not_followed(tmp_path):
    path = tmp_path / "c.db"
    CampaignStore.create(path, "{}").close()
    (tmp_path / "c.db.lock").unlink()
    victim = tmp_path / "precious.txt"
    victim.write_text("do not truncate me")
    (tmp_path / "c.db.lock").symlink_to(victim)
    with pytest.raises(StoreError, match="symlink"):
        CampaignStore.open(path)
    assert_clean_error(mmmo("resume", path), 2, "symlink")
    assert victim.read_text() == "do not truncate me"
    (tmp_path / "d.db.lock").symlink_to(victim)
    with pytest.raises(StoreError, match="symlink"):
        CampaignStore.create(tmp_path / "d.db", "{}")
    assert victim.read_text() == "do not truncate me" and not (tmp_path / "d.db").exists()
