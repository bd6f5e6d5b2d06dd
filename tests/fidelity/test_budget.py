import json

import pytest

from mmmo.config import parse_config
from mmmo.errors import ConfigError
from mmmo.fidelity.budget import check_budget, example_counts, full_cost, spent, trial_cost
from mmmo.objectives.base import Measurement
from mmmo.trial import TrialRecord


@pytest.fixture
def config(tmp_path):
    for name, rows in (("a", 30), ("b", 7)):
        (tmp_path / f"{name}.jsonl").write_text(
            "\n".join(json.dumps({"prompt": str(i), "answer": "x"}) for i in range(rows)) + "\n\n"
        )
    (tmp_path / "base").mkdir()

    def make(**budget):
        return parse_config({
            "base": str(tmp_path / "base"),
            "models": [str(tmp_path / "base")],
            "space": "dare_ties",
            "objectives": [
                {"kind": "exact_match", "data": str(tmp_path / "a.jsonl"), "name": "a", "limit": 20},
                {"kind": "token_accuracy", "data": str(tmp_path / "b.jsonl"), "name": "b", "limit": 20},
                {"kind": "delta_l2", "name": "size"},
            ],
            "budget": {"trials": 4, "initial": 1, **budget},
        })

    return make


def test_counts_are_the_data_rows_at_most_the_limit(config):
    assert example_counts(config()) == {"a": 20, "b": 7, "size": 0}


def test_a_trial_costs_its_prefix_and_a_promotion_only_what_it_adds():
    counts = {"a": 20, "b": 7, "size": 0}
    assert trial_cost(counts, 0.25) == 5 + 2
    assert trial_cost(counts, 1.0, parent_fidelity=0.25) == 15 + 5
    assert full_cost(counts) == trial_cost(counts, None) == 27


def test_spent_counts_finished_costs_and_plans_the_trials_in_flight():
    counts = {"a": 20}
    done = TrialRecord(1, "complete", "sobol", None, (0.5,), {}, 0, origin="searched", fidelity=0.25, cost=5,
                       measurements={"a": Measurement(0.5, n=5)}, seconds_merge=1.0, seconds_eval=2.0)
    running = TrialRecord(2, "running", "promotion", None, (0.5,), {}, 0, origin="searched", fidelity=1.0,
                          params={"promoted_from": 1})
    reference = TrialRecord(3, "complete", "reference", "base", None, {}, 0, origin="reference", cost=20)
    assert spent([done, running, reference], counts) == (5 + 15, 3.0)


def test_a_budget_below_one_full_evaluation_is_refused_naming_the_field(config):
    check_budget(config(examples=27))
    with pytest.raises(ConfigError, match=r"budget\.examples: 26 is below one full evaluation \(27 examples"):
        check_budget(config(examples=26))


def test_an_lm_eval_objective_needs_a_limit_for_a_cost_budget(config, tmp_path):
    lm_eval = config(examples=100).model_dump(mode="json")
    lm_eval["objectives"].append({"kind": "lm_eval", "task": "hellaswag", "name": "hs"})
    with pytest.raises(ConfigError, match=r"objectives\.3\.limit: objective 'hs' needs a limit"):
        example_counts(parse_config(lm_eval))


def test_a_budget_in_examples_or_seconds_is_spent_whichever_comes_first():
    from mmmo.config import Budget
    from mmmo.fidelity.budget import budget_spent

    counts = {"a": 20}
    done = TrialRecord(1, "complete", "sobol", None, (0.5,), {}, 0, origin="searched", fidelity=1.0, cost=20,
                       seconds_merge=1.0, seconds_eval=2.0)
    assert not budget_spent(Budget(), [done], counts)
    assert budget_spent(Budget(examples=20), [done], counts) and not budget_spent(Budget(examples=21), [done], counts)
    assert budget_spent(Budget(seconds=3.0), [done], counts) and not budget_spent(Budget(seconds=3.5), [done], counts)
    assert budget_spent(Budget(examples=1000, seconds=2.0), [done], counts)
