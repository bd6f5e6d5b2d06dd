"""Item: a full disk is a clear error naming the path, leaves no husk, and loses nothing stored."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess

import pytest
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.errors import StoreError


@contextlib.contextmanager
def small_tmpfs(folder, size="1m"):
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({result.stderr.strip() or 'mount failed'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder, leave=0):
    """Fill ``folder``'s file system, leaving about ``leave`` bytes free; returns the filler."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free - leave
    with open(filler, "wb") as handle:
        try:
            handle.write(b"\0" * max(free, 0))
            handle.flush()
            os.fsync(handle.fileno())
        except OSError:
            pass
    return filler


def test_creation_on_a_full_disk_names_the_path_and_leaves_nothing(models, tmp_path):
    with small_tmpfs(tmp_path / "disk") as disk:
        filler = fill(disk, leave=4096)
        path = disk / "c.db"
        with pytest.raises(StoreError, match=rf"{re.escape(str(path))}: .*(disk is full|no space left)"):
            Campaign.create(path, config_for(models))
        assert [p.name for p in disk.iterdir()] == ["filler"]  # no 4 KiB husk, no temporary file, no lock
        config = tmp_path / "c.yaml"
        config.write_text(__import__("yaml").safe_dump(config_for(models)))
        assert_clean_error(mmmo("run", config, "--db", path), 2, str(path))
        assert [p.name for p in disk.iterdir()] == ["filler"]
        filler.unlink()


def test_a_run_that_fills_the_disk_stops_naming_it_and_keeps_every_stored_trial(models, tmp_path):
    with small_tmpfs(tmp_path / "disk") as disk:
        path = disk / "c.db"
        with Campaign.create(path, config_for(models, budget={"trials": 50, "initial": 50})) as campaign:
            campaign.run(n_trials=1)
            stored = {r.trial_id: r for r in campaign._store.trials()}
        filler = fill(disk)
        result = mmmo("resume", path)
        assert_clean_error(result, 2, str(path))
        assert "full" in result.stderr
        filler.unlink()
        with Campaign.open(path, readonly=True) as campaign:
            after = {r.trial_id: r for r in campaign._store.trials()}
        for trial_id, record in stored.items():
            assert after[trial_id] == record
        with Campaign.open(path) as campaign:  # with space again, the campaign goes on
            campaign.run(n_trials=1)
