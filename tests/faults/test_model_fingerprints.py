"""Item: a model folder changed after creation is refused on resume and export, unless accepted."""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.fingerprints import ModelChangedError, changed_models, fingerprint_models, model_fingerprint
from mmmo.plan import MergePlan
from mmmo.store import NewTrial


def _create(models, path, **overrides):
    campaign = Campaign.create(path, config_for(models, **overrides))
    plan = MergePlan.uniform("task_arithmetic", ("a", "b"), weight=0.5, seed=0)
    (trial_id,) = campaign._store.add_trials([NewTrial("sobol", seed=0, plan=plan.to_dict(), origin="searched")])
    campaign.close()
    return trial_id


def _swap_source(models):
    """Replace source a's weights by source b's: the same names and shapes, other values."""
    shutil.copyfile(models / "b" / "model.safetensors", models / "a" / "model.safetensors")


def test_fingerprint_is_stored_at_creation_and_sees_a_swapped_source(models, tmp_path):
    _create(models, tmp_path / "c.db")
    with Campaign.open(tmp_path / "c.db", readonly=True) as campaign:
        stored = campaign._store.get_meta("fingerprints")
    assert set(stored) == {"base", "source 'a'", "source 'b'"}
    entry = stored["source 'a'"]["files"]["model.safetensors"]
    assert entry["size"] == (models / "a" / "model.safetensors").stat().st_size
    assert len(entry["header_sha256"]) == 64
    _swap_source(models)
    current = fingerprint_models(models / "base", {"a": models / "a", "b": models / "b"})
    (line,) = changed_models(stored, current)
    assert line.startswith("source 'a': model.safetensors (")


def test_resume_and_export_refuse_a_changed_source_unless_accepted(models, tmp_path):
    path = tmp_path / "c.db"
    trial_id = _create(models, path)
    _swap_source(models)
    with Campaign.open(path) as campaign:
        with pytest.raises(ModelChangedError, match="source 'a': model.safetensors"):
            campaign.run()
        assert [r.status for r in campaign._store.trials()] == ["pending"]  # nothing ran
    with Campaign.open(path, readonly=True) as campaign:
        with pytest.raises(ModelChangedError, match="--accept-changed-models"):
            campaign.export(trial_id, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert_clean_error(mmmo("resume", path), 2, "source 'a'", "--accept-changed-models")
    assert_clean_error(mmmo("export", path, trial_id, tmp_path / "out"), 2, "source 'a'")
    with Campaign.open(path, accept_changed_models=True) as campaign:
        campaign.check_models()  # accepted: the new fingerprints are recorded by the writer
    with Campaign.open(path) as campaign:
        campaign.check_models()  # and no longer refused
    result = mmmo("export", path, trial_id, tmp_path / "out")
    assert result.returncode == 0, result.stderr


def test_a_touched_config_changes_the_fingerprint_but_an_untouched_folder_does_not(models):
    before = model_fingerprint(models / "base")
    assert model_fingerprint(models / "base") == before
    config = models / "base" / "config.json"
    info = config.stat()
    os.utime(config, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    assert model_fingerprint(models / "base") != before


def test_an_adapter_naming_another_base_gets_a_warning_naming_both(models, tmp_path, caplog):
    adapter_config = models / "lora" / "adapter_config.json"
    data = json.loads(adapter_config.read_text())
    data["base_model_name_or_path"] = "some-org/another-model"
    adapter_config.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="mmmo.preflight"):
        Campaign.create(tmp_path / "c.db", config_for(models, models=[
            {"path": str(models / "a"), "name": "a"}, {"path": str(models / "lora"), "name": "lora"}])).close()
    assert "source 'lora'" in caplog.text and "some-org/another-model" in caplog.text
    assert str(models / "base") in caplog.text
    with Campaign.open(tmp_path / "c.db", readonly=True) as campaign:
        assert campaign._store.get_meta("fingerprints")["source 'lora'"]["adapter_base"] == "some-org/another-model"
    caplog.clear()
    data["base_model_name_or_path"] = "base"  # the base's own folder name: no warning
    adapter_config.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="mmmo.preflight"):
        Campaign.create(tmp_path / "d.db", config_for(models, models=[
            {"path": str(models / "a"), "name": "a"}, {"path": str(models / "lora"), "name": "lora"}])).close()
    assert "another" not in caplog.text and "trained on" not in caplog.text
