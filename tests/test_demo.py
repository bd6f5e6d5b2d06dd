from __future__ import annotations

import pytest

from mmmo.config import load_config
from mmmo.demo import DEMO_BATCH_SIZE, DEMO_INITIAL, DEMO_LIMIT, DEMO_TRIALS, demo_config, write_config


def test_demo_config_scores_each_expert_on_its_own_task(tiny_zoo):
    config = demo_config(tiny_zoo)
    assert config.model_names == tiny_zoo.expert_tasks
    assert [m.path for m in config.models] == [tiny_zoo.experts[t] for t in tiny_zoo.expert_tasks]
    assert config.base == tiny_zoo.base
    assert config.objective_names == tiny_zoo.expert_tasks
    for spec, task in zip(config.objectives, tiny_zoo.expert_tasks):
        assert spec.kind == "exact_match" and spec.data == tiny_zoo.tasks[task].test
        assert spec.limit == DEMO_LIMIT and spec.resolved_direction == "maximize"
    assert config.space.methods == ("dare_ties",)
    assert set(config.space.parameters) == {"weight", "density"}
    assert config.budget.trials == DEMO_TRIALS and config.budget.initial == DEMO_INITIAL
    assert config.budget.batch_size == DEMO_BATCH_SIZE
    assert config.proposer == "qlognehvi" and config.device == "cpu"


@pytest.mark.parametrize(("trials", "initial"), [(1, 1), (2, 1), (9, 3), (100, DEMO_INITIAL)])
def test_small_budgets_keep_a_bayesian_phase(tiny_zoo, trials, initial):
    assert demo_config(tiny_zoo, trials=trials).budget.initial == initial


def test_written_config_loads_back_identical(tiny_zoo, tmp_path):
    config = demo_config(tiny_zoo, trials=5, seed=3)
    path = write_config(config, tmp_path / "sub" / "demo.yaml")
    assert load_config(path) == config
