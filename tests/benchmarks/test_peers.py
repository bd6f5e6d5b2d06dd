"""The peers take a space's categorical coordinate as their own categorical parameter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from peers import EvaluationBudget, run_ax, run_optuna  # noqa: E402

CATEGORIES = (0.25, 0.75)


class Evaluation:
    def __init__(self, values):
        self.values, self.seconds = values, 0.0


def budget(n: int) -> EvaluationBudget:
    def evaluate(x):
        return Evaluation((float(x[1]), float(1 - x[1]) + (0.5 if x[0] == 0.75 else 0.0)))

    return EvaluationBudget(evaluate, lambda x: ",".join(f"{v:.6f}" for v in x), n)


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_optuna_draws_the_categorical_coordinate_from_its_values(sampler):
    f = budget(12)
    run_optuna(f, sampler, 3, 2, 4, seed=0, categorical={0: CATEGORIES})
    first = {x[0] for x in f.trace.X}
    assert first <= set(CATEGORIES) and len(f.trace.X) == 12
    assert len({round(x[1], 6) for x in f.trace.X}) > 2  # the others stay continuous


@pytest.mark.slow
def test_ax_draws_the_categorical_coordinate_from_its_values():
    f = budget(6)
    run_ax(f, 3, ["a", "b"], 3, seed=0, categorical={0: CATEGORIES})
    assert {x[0] for x in f.trace.X} <= set(CATEGORIES) and len(f.trace.X) == 6


def test_per_layer_gain_scales_one_group_and_caps_at_the_bound():
    import per_layer_gain
    from mmmo.plan import MergePlan, SourceParams, TensorGrouping

    grouping = TensorGrouping("layer", num_layers=2)
    params = {g: (SourceParams(1.0, 0.5), SourceParams(0.4, 1.0)) for g in grouping.group_names()}
    plan = MergePlan("dare_ties", ("a", "b"), params, grouping)
    changed = per_layer_gain.scaled(plan, "layer1", 1.5, high=1.2)
    assert [p.weight for p in changed.params["layer1"]] == [1.2, pytest.approx(0.6)]
    assert changed.params["layer0"] == plan.params["layer0"] and changed.params["layer1"][0].density == 0.5
    assert per_layer_gain.dominates([0.5, 0.2], [0.5, 0.1]) and not per_layer_gain.dominates([0.5, 0.1], [0.5, 0.1])
