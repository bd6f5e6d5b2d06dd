"""A multi-fidelity campaign on Ray workers: promotions cross the process boundary with their parent's scores."""

from __future__ import annotations

from mmmo.campaign import Campaign
from mmmo.evaluation import TrialEvaluator, TrialRequest

from .conftest import ray_executor, zoo_config


def test_a_ray_campaign_screens_promotes_and_scores_promotions_in_full(ray_session, tiny_zoo, tmp_path, flags):
    task = tiny_zoo.expert_tasks[0]
    objectives = [{"kind": "exact_match", "data": str(tiny_zoo.tasks[task].test), "name": task, "limit": 8}]
    config = zoo_config(
        tiny_zoo, objectives=objectives, executor=ray_executor(2),
        budget={"trials": 8, "initial": 0, "batch_size": 1},
        fidelity={"schedule": [0.5, 1.0], "promote": "halving", "eta": 2},
    )
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        campaign.run()
        records = campaign._store.trials()
        seed = campaign._data_seed()
    promotions = [r for r in records if r.proposer == "promotion"]
    assert promotions and all(r.status == "complete" and r.fidelity == 1.0 for r in promotions)
    assert all(":" in r.worker for r in promotions)  # evaluated by Ray workers (host:pid)
    assert all(r.cost == 4 for r in promotions)  # the 4 examples the parent's 4 did not cover
    evaluator = TrialEvaluator(campaign.config, data_seed=seed)
    for promotion in promotions:
        fresh = evaluator.evaluate(TrialRequest(promotion.trial_id, dict(promotion.plan)))
        assert promotion.measurements[task].value == fresh.measurements[task]["value"]


def test_a_momf_campaign_on_ray_workers_proposes_with_trials_in_flight(ray_session, tiny_zoo, tmp_path, flags):
    from botorch.test_utils.mock import mock_optimize_context_manager

    task = tiny_zoo.expert_tasks[0]
    objectives = [{"kind": "exact_match", "data": str(tiny_zoo.tasks[task].test), "name": task, "limit": 8}]
    config = zoo_config(
        tiny_zoo, objectives=objectives, executor=ray_executor(2),
        budget={"trials": 8, "initial": 3, "batch_size": 1}, proposer="qlognehvi",
        fidelity={"schedule": [0.5, 1.0]},  # MOMF, the default
    )
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign, mock_optimize_context_manager():
        campaign.run()
        searched = [r for r in campaign._store.trials() if r.is_searched]
    assert len(searched) == 8 and all(r.status == "complete" and ":" in r.worker for r in searched)
    assert any(r.proposer not in ("sobol", "promotion") for r in searched), "the model chose no trial"
    screens = [r for r in searched if r.proposer != "promotion"]
    assert len({tuple(r.x) for r in screens}) == len(screens)  # a point in flight is pending, not proposed again
