"""Schema versions: the committed version-1 file opens, read-only as it is, and upgrades to version 2."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from mmmo.campaign import Campaign
from mmmo.errors import StoreError
from mmmo.store import CampaignStore
from mmmo.store_schema import SCHEMA_VERSION, v1_origin

FIXTURE = Path(__file__).resolve().parent / "data" / "campaign_v1.sqlite"


@pytest.fixture
def v1_file(tmp_path) -> Path:
    """A copy of the committed version-1 campaign, plus one externally recorded trial."""
    path = tmp_path / "v1.sqlite"
    shutil.copyfile(FIXTURE, path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (1,)
        db.execute("INSERT INTO trials (status, proposer, seed, measurements, created_at)"
                   " VALUES ('complete', 'pareto_merging', 0, '{}', 1.0)")
    return path


def test_v1_file_read_only_is_read_as_it_is(v1_file):
    before = v1_file.read_bytes()
    with CampaignStore.open(v1_file, readonly=True) as store:
        assert store.schema_version == 1
        records = store.trials()
    assert v1_file.read_bytes() == before
    assert [r.origin for r in records] == ["reference"] * 7 + ["searched"] * 2 + ["external"]
    assert all(r.worker is None and r.cost is None for r in records)


def test_v1_file_is_upgraded_when_opened_for_writing(v1_file):
    with CampaignStore.open(v1_file, readonly=True) as store:
        old = store.trials()
    with CampaignStore.open(v1_file) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        new = store.trials()
        store.mark_running(store.add_trials([_new_trial()])[0], worker="node:1")
    assert new == old  # the same rows, the origin now stored
    with sqlite3.connect(v1_file) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(trials)")]
        stored = db.execute("SELECT origin FROM trials ORDER BY trial_id").fetchall()
    assert columns[-4:] == ["origin", "worker", "fidelity", "cost"]
    assert [o for (o,) in stored] == ["reference"] * 7 + ["searched"] * 2 + ["external", "searched"]
    with Campaign.open(v1_file, readonly=True) as campaign:  # and reads as a campaign
        trials = campaign.trials()
        assert trials["origin"].tolist()[:10] == ["reference"] * 7 + ["searched"] * 2 + ["external"]
        assert campaign.hypervolume_history()["n_searched"].max() == 2


def test_an_origin_outside_the_three_is_refused():
    with pytest.raises(StoreError, match="NewTrial.origin must be one of reference, searched, external; got 'guessed'"):
        _new_trial(origin="guessed")


def test_v1_origin_rule():
    assert [v1_origin(p) for p in ("reference", "sobol", "random", "qlognehvi", "qlognparego", "pareto_merging")] == [
        "reference", "searched", "searched", "searched", "searched", "external"
    ]


def _new_trial(origin="searched"):
    from mmmo.store import NewTrial

    return NewTrial("sobol", seed=1, origin=origin)
