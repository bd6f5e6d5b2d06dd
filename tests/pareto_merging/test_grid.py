import pytest
import torch

from mmmo.errors import MergeError
from mmmo.objectives.base import Measurement
from mmmo.pareto_merging.grid import PROPOSER, evaluate_grid
from mmmo.pareto_merging.merged import ParetoMergedModel

TARGET = "model.layers.0.mlp.down_proj.weight"


class WeightProbe:
    """An objective that reads one weight entry of the live model it is given."""

    direction = "maximize"

    def __init__(self, name):
        self.name = name

    def evaluate(self, model, tokenizer):
        weight = dict(model.named_parameters())[TARGET]
        return Measurement(value=weight[0, 0].item(), n=1)


class RecordingCampaign:
    def __init__(self):
        self.calls = []

    def record_external(self, params, measurements, proposer, plan=None):
        self.calls.append((dict(params), dict(measurements), proposer, plan))
        return 100 + len(self.calls)


def test_each_preference_is_written_scored_and_recorded(tiny_llama):
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], [TARGET], rank=2)
    with torch.no_grad():
        pm.correction.G["model__layers__0__mlp__down_proj__weight"].normal_()
    campaign = RecordingCampaign()
    grid = [[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]
    points = evaluate_grid(pm, grid, [WeightProbe("probe")], tokenizer=None, campaign=campaign)

    assert [p.trial_id for p in points] == [101, 102, 103]
    assert [p.preference for p in points] == [
        {"a": 1.0, "b": 0.0},
        {"a": 0.5, "b": 0.5},
        {"a": 0.0, "b": 1.0},
    ]
    for point, (params, measurements, proposer, plan) in zip(points, campaign.calls):
        want = pm.weights_for(torch.tensor(list(point.preference.values())))[TARGET][0, 0]
        # The objective saw the live model at exactly this preference.
        assert measurements["probe"].value == pytest.approx(want.item(), abs=1e-6)
        assert params == {"preference[a]": point.preference["a"], "preference[b]": point.preference["b"]}
        assert proposer == PROPOSER == "pareto_merging"
        assert plan is None  # the weights are not a plan's: export must not rebuild them from one
    values = [p.measurements["probe"].value for p in points]
    assert len(set(values)) == 3


def test_a_bad_grid_row_is_refused_before_it_is_recorded(tiny_llama):
    pm = ParetoMergedModel(tiny_llama, ["a", "b"], [TARGET], rank=2)
    campaign = RecordingCampaign()
    with pytest.raises(MergeError, match="negative"):
        evaluate_grid(pm, [[0.5, 0.5], [1.0, -1.0]], [WeightProbe("probe")], None, campaign=campaign)
    assert len(campaign.calls) == 1
