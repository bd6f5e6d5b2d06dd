import json

import pytest

from mmmo.evaluation import TrialOutcome, TrialRequest
from mmmo.objectives.base import Measurement
from mmmo.plan import MergePlan


def test_request_and_outcome_survive_json():
    plan = MergePlan.uniform("dare_ties", ("a", "b"), weight=[0.5, 1.0], density=0.4, seed=9).to_dict()
    request = TrialRequest(trial_id=7, plan=plan, fidelity=0.5)
    text = request.to_json()
    assert json.loads(text) == {"trial_id": 7, "plan": plan, "fidelity": 0.5, "prior": None}
    assert TrialRequest.from_json(text) == request
    promotion = TrialRequest(trial_id=8, plan=plan, fidelity=1.0, prior={"acc": (1.0, 0.0, 1.0)})
    assert TrialRequest.from_json(promotion.to_json()).prior == {"acc": [1.0, 0.0, 1.0]}
    assert MergePlan.from_dict(TrialRequest.from_json(text).plan) == MergePlan.from_dict(plan)

    measured = {"acc": Measurement(0.75, stderr=0.1, n=4, seconds=0.2, scores=(1.0, 1.0, 0.0, 1.0)),
                "ppl": Measurement.failure("NaN", 0.1)}
    outcome = TrialOutcome(7, "failed", {k: m.to_dict() for k, m in measured.items()}, 0.01, 0.3,
                           error="ppl: NaN", worker="node:12", out_of_memory=False, cost=4)
    back = TrialOutcome.from_json(outcome.to_json())
    assert back == outcome
    assert back.measurement_objects() == measured


def test_lost_outcome_names_the_worker():
    lost = TrialOutcome.lost(3, "node:5", "worker node:5 died")
    assert (lost.status, lost.worker, lost.measurements) == ("lost", "node:5", {})
    with pytest.raises(TypeError):
        TrialRequest.from_json(json.dumps({"trial_id": 1, "plan": {}, "weights": [1.0]}))
