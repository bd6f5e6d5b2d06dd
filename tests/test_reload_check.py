"""An exported front member reloaded with transformers scores as the campaign measured it."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmmo.campaign import Campaign
from mmmo.demo import demo_config
from mmmo.reload_check import check_reload


@pytest.fixture(scope="module")
def exported(tiny_zoo, tmp_path_factory):
    root = tmp_path_factory.mktemp("reload")
    config = demo_config(tiny_zoo, trials=1, batch_size=1, limit=8)
    campaign = Campaign.create(root / "c.db", config)
    campaign.run()
    # The best member on the first task: an expert or a merge that scores above zero.
    trial_id = int(campaign.front().sort_values(config.objective_names[0]).iloc[-1]["trial_id"])
    path = campaign.export(trial_id, root / "export")
    yield campaign, trial_id, path
    campaign.close()


def test_a_faithful_export_reloads_with_the_stored_scores(exported):
    campaign, trial_id, path = exported
    check = check_reload(campaign, trial_id, path)
    assert check.matches, check.text()
    assert set(check.stored) == set(campaign.objective_names)
    assert max(check.reloaded.values()) > 0  # scores that could differ, not zeros everywhere
    assert check.model_class.endswith("ForCausalLM")
    assert "same scores" in check.text()


def test_an_export_whose_weights_changed_is_caught(exported, tmp_path):
    campaign, trial_id, path = exported
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    [weights] = broken.glob("*.safetensors")
    tensors = load_file(weights)
    tensors = {k: torch.zeros_like(v) if k.endswith("proj.weight") else v for k, v in tensors.items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    check = check_reload(campaign, trial_id, broken)
    assert not check.matches
    assert "SCORES DIFFER" in check.text()
