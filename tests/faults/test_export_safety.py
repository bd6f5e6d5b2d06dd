"""Item: export never destroys a model, and never leaves a half-written or stale folder."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from faultlib import assert_clean_error, config_for, mmmo

from mmmo.campaign import Campaign
from mmmo.errors import ExportError
from mmmo.plan import MergePlan
from mmmo.store import NewTrial


def _campaign_with_a_plan(models, path):
    campaign = Campaign.create(path, config_for(models))
    plan = MergePlan.uniform("task_arithmetic", ("a", "b"), weight=0.5, seed=0)
    (trial_id,) = campaign._store.add_trials([NewTrial("sobol", seed=0, plan=plan.to_dict(), origin="searched")])
    return campaign, trial_id


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_export_into_a_campaign_model_folder_is_refused_even_with_overwrite(models, tmp_path):
    campaign, trial_id = _campaign_with_a_plan(models, tmp_path / "c.db")
    before = {name: _snapshot(models / name) for name in ("base", "a")}
    for target in (models / "base", models / "a", models / "base" / "sub", models):
        for overwrite in (False, True):
            with pytest.raises(ExportError, match="model folder"):
                campaign.export(trial_id, target, overwrite=overwrite)
    assert {name: _snapshot(models / name) for name in ("base", "a")} == before
    assert not (models / "base" / "sub").exists()
    campaign.close()


def test_a_non_empty_folder_is_refused_and_overwrite_replaces_a_stale_sharded_checkpoint(models, tmp_path):
    from transformers import AutoModelForCausalLM

    campaign, trial_id = _campaign_with_a_plan(models, tmp_path / "c.db")
    out = tmp_path / "old"
    out.mkdir()
    (out / "model-00001-of-00002.safetensors").write_bytes(b"old shard")
    (out / "model.safetensors.index.json").write_text(json.dumps({
        "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}))
    before = _snapshot(out)
    with pytest.raises(ExportError, match="not empty.*--overwrite"):
        campaign.export(trial_id, out)
    assert _snapshot(out) == before
    campaign.export(trial_id, out, overwrite=True)
    assert not (out / "model.safetensors.index.json").exists()  # the stale index went with the folder
    assert not (out / "model-00001-of-00002.safetensors").exists()
    AutoModelForCausalLM.from_pretrained(out)  # a readable checkpoint
    assert json.loads((out / "merge_plan.json").read_text())["method"] == "task_arithmetic"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left
    campaign.close()


def test_a_failed_export_leaves_the_old_folder_and_no_partial_one(models, tmp_path, monkeypatch):
    from transformers import PreTrainedModel

    campaign, trial_id = _campaign_with_a_plan(models, tmp_path / "c.db")
    out = tmp_path / "old"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    def half_written(self, folder, *args, **kwargs):
        Path(folder, "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", half_written)
    with pytest.raises(ExportError, match="could not be written"):
        campaign.export(trial_id, out, overwrite=True)
    assert _snapshot(out) == {"keep.txt": b"mine"}
    with pytest.raises(ExportError):
        campaign.export(trial_id, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    campaign.close()


def test_cli_export_and_plot_into_a_file_exit_2_naming_it(models, tmp_path):
    campaign, trial_id = _campaign_with_a_plan(models, tmp_path / "c.db")
    campaign.close()
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    assert_clean_error(mmmo("export", tmp_path / "c.db", trial_id, file), 2, str(file), "not a folder")
    assert_clean_error(mmmo("plot", tmp_path / "c.db", "--out", file), 2, str(file), "not a folder")
    assert file.read_text() == "not a folder"
    base_before = _snapshot(models / "base")
    assert_clean_error(mmmo("export", tmp_path / "c.db", trial_id, models / "base", "--overwrite"), 2,
                       "model folder")
    assert _snapshot(models / "base") == base_before
    out = tmp_path / "merged"
    out.mkdir()
    (out / "notes.txt").write_text("x")
    assert_clean_error(mmmo("export", tmp_path / "c.db", trial_id, out), 2, "--overwrite")
    result = mmmo("export", tmp_path / "c.db", trial_id, out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert (out / "config.json").is_file() and not (out / "notes.txt").exists()
    shutil.rmtree(out)
