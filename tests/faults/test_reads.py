"""Item: reads survive a campaign with no trial and a trial row with corrupt JSON."""

from __future__ import annotations

import json
import sqlite3

import pytest
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.errors import StoreError


def test_status_and_front_work_on_a_campaign_with_no_trial(models, tmp_path):
    Campaign.create(tmp_path / "c.db", config_for(models)).close()
    status = mmmo("status", tmp_path / "c.db")
    assert status.returncode == 0, status.stderr
    assert "0 complete of 2 budgeted" in status.stdout
    front = mmmo("front", tmp_path / "c.db")
    assert front.returncode == 0, front.stderr
    assert "front is empty" in front.stdout
    as_json = mmmo("front", tmp_path / "c.db", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    with Campaign.open(tmp_path / "c.db", readonly=True) as campaign:
        assert campaign.front().empty and "is_reference" in campaign.front().columns
        assert campaign.hypervolume_history().empty


@pytest.fixture
def corrupt(models, tmp_path):
    """A campaign of two finished trials whose first row's measurements are not JSON."""
    path = tmp_path / "c.db"
    with Campaign.create(path, config_for(models, budget={"trials": 2, "initial": 2})) as campaign:
        campaign.run()
        ids = sorted(campaign.trials()["trial_id"])
    connection = sqlite3.connect(path)
    connection.execute("UPDATE trials SET measurements = '{\"t1\": {\"val' WHERE trial_id = ?", (ids[0],))
    connection.commit()
    connection.close()
    return path, ids


def test_a_corrupt_row_is_skipped_by_name_in_read_only_views(corrupt, caplog):
    path, ids = corrupt
    with Campaign.open(path, readonly=True) as campaign:
        with caplog.at_level("WARNING", logger="mmmo.store"):
            trials = campaign.trials()
        assert list(trials["trial_id"]) == ids[1:]
        assert set(campaign._store.corrupt_trials) == {ids[0]}
        assert f"trial {ids[0]} skipped" in caplog.text and "measurements" in caplog.text
        assert not campaign.front().empty
    result = mmmo("status", path)
    assert result.returncode == 0, result.stderr
    assert f"trial {ids[0]} skipped" in result.stderr
    assert mmmo("front", path, "--json").returncode == 0


def test_a_run_refuses_a_corrupt_row_naming_it(corrupt):
    path, ids = corrupt
    with Campaign.open(path) as campaign:
        with pytest.raises(StoreError, match=rf"trial {ids[0]}: column 'measurements' does not hold valid JSON"):
            campaign.run(n_trials=1)
    assert_clean_error(mmmo("resume", path, "--trials", 1), 2, f"trial {ids[0]}: column 'measurements'")
