import os
import sqlite3

import pytest

from mmmo.errors import CampaignLockedError, StoreError
from mmmo.objectives.base import Measurement
from mmmo.store import SCHEMA_VERSION, CampaignStore, NewTrial


@pytest.fixture
def store(tmp_path):
    with CampaignStore.create(tmp_path / "c.sqlite", '{"name": "x"}') as opened:
        yield opened


def test_create_holds_config_version_and_wal(store):
    assert store.config_json == '{"name": "x"}'
    assert store.schema_version == SCHEMA_VERSION
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_create_refuses_existing_file(store):
    store.close()
    with pytest.raises(StoreError, match="already exists"):
        CampaignStore.create(store.path, "{}")


def test_trial_lifecycle_and_round_trip(store):
    ids = store.add_trials([
        NewTrial("sobol", seed=3, origin="searched", x=[0.25, 0.5], plan={"method": "ties"}, seconds_propose=0.1),
        NewTrial("reference", seed=0, label="base", origin="reference", params={"lambda": 0.5}),
    ])
    assert ids == [1, 2]
    assert [t.status for t in store.trials()] == ["pending", "pending"]
    store.mark_running(1)
    assert store.trial(1).status == "running" and store.trial(1).attempts == 1
    store.finish(1, {"acc": Measurement(0.5, stderr=0.1, n=10, seconds=1.0)}, 0.2, 1.0)
    record = store.trial(1)
    assert record.status == "complete" and record.x == (0.25, 0.5) and record.plan == {"method": "ties"}
    assert record.measurements["acc"] == Measurement(0.5, stderr=0.1, n=10, seconds=1.0)
    assert (record.seconds_merge, record.seconds_eval, record.seconds_propose, record.seed) == (0.2, 1.0, 0.1, 3)
    store.mark_running(2)
    store.finish(2, {"acc": Measurement.failure("boom")}, None, None, error="acc: boom")
    failed = store.trial(2)
    assert failed.status == "failed" and failed.error == "acc: boom" and failed.params == {"lambda": 0.5}
    assert failed.is_reference and failed.label == "base"


def test_invalid_transitions_are_refused(store):
    (trial_id,) = store.add_trials([NewTrial("sobol", seed=0, origin="searched")])
    with pytest.raises(StoreError, match="not running"):
        store.finish(trial_id, {}, None, None)
    store.mark_running(trial_id)
    with pytest.raises(StoreError, match="not pending .*it is running"):
        store.mark_running(trial_id)
    with pytest.raises(StoreError, match="no such trial"):
        store.mark_running(99)


def test_requeue_running_keeps_the_same_row(store):
    ids = store.add_trials([NewTrial("sobol", seed=i, origin="searched") for i in range(3)])
    store.mark_running(ids[0])
    store.finish(ids[0], {}, 0.0, 0.0)
    store.mark_running(ids[1])
    assert store.requeue_running() == [ids[1]]
    assert [t.status for t in store.trials()] == ["complete", "pending", "pending"]
    store.mark_running(ids[1])
    assert store.trial(ids[1]).attempts == 2
    assert len(store.trials()) == 3


def test_reference_labels_are_unique(store):
    store.add_trials([NewTrial("reference", seed=0, label="base", origin="reference")])
    with pytest.raises(StoreError, match="'base' already exists"):
        store.add_trials([
            NewTrial("reference", seed=0, label="base", origin="reference"), NewTrial("sobol", seed=1, origin="searched")
        ])
    assert len(store.trials()) == 1  # the failed insert rolled back as a whole


def test_second_writer_gets_locked_error_naming_pid(store):
    with pytest.raises(CampaignLockedError, match=rf"{store.path}.*process {os.getpid()}"):
        CampaignStore.open(store.path)
    store.close()
    CampaignStore.open(store.path).close()  # released on close


def test_readonly_sees_commits_and_cannot_write(store):
    reader = CampaignStore.open(store.path, readonly=True)
    store.add_trials([NewTrial("sobol", seed=0, origin="searched")])
    assert len(reader.trials()) == 1
    with pytest.raises(StoreError, match="read-only"):
        reader.add_trials([NewTrial("sobol", seed=1, origin="searched")])
    reader.close()


def test_meta_round_trip(store):
    store.set_meta("directions", ["maximize", "minimize"])
    store.set_meta("directions", ["minimize"])
    assert store.get_meta("directions") == ["minimize"]
    assert store.get_meta("missing", 7) == 7


def test_newer_schema_and_foreign_files_are_refused(tmp_path, store):
    store.close()
    connection = sqlite3.connect(store.path)
    connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="schema version"):
        CampaignStore.open(store.path, readonly=True)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (a)").connection.commit()
    with pytest.raises(StoreError, match="not an mmmo campaign"):
        CampaignStore.open(other, readonly=True)
    with pytest.raises(StoreError, match="no campaign file"):
        CampaignStore.open(tmp_path / "missing.sqlite")


def test_create_stores_meta_and_leaves_only_the_file_and_its_lock(tmp_path):
    with CampaignStore.create(tmp_path / "c.sqlite", "{}", meta={"num_layers": 4}) as store:
        assert store.get_meta("num_layers") == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite", "c.sqlite.lock"]


def test_a_corrupt_row_is_skipped_by_readers_and_refused_by_writers(store):
    store.add_trials([NewTrial("sobol", seed=0, origin="searched"), NewTrial("sobol", seed=1, origin="searched")])
    connection = sqlite3.connect(store.path)
    connection.execute("UPDATE trials SET x = '[0.1,' WHERE trial_id = 1")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="trial 1: column 'x' does not hold valid JSON"):
        store.trials()
    with CampaignStore.open(store.path, readonly=True) as reader:
        assert [t.trial_id for t in reader.trials()] == [2]
        assert list(reader.corrupt_trials) == [1]
        with pytest.raises(StoreError, match="trial 1: column 'x'"):
            reader.trial(1)

