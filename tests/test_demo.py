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


def fake_real_zoo(root):
    """A real zoo's folder layout, enough to build the real demo's config (nothing is loaded)."""
    from mmmo.realzoo import RealZoo

    experts, held_out = ("arithmetic.2_digit_addition", "object_counting"), ("arithmetic.1_digit_multiplication",)
    tasks = experts + held_out
    return RealZoo(
        root=root,
        base=root / "base",
        adapters={t: root / "adapters" / t for t in experts},
        experts={},
        trains={t: root / "data" / t / "train.jsonl" for t in tasks},
        tests={t: root / "data" / t / "test.jsonl" for t in tasks},
        expert_tasks=experts,
        held_out_tasks=held_out,
        manifest={},
    )


def test_real_demo_searches_the_expert_tasks_and_reports_the_held_out_one(tmp_path):
    from mmmo.demo import REAL_DEMO_LIMIT, REAL_DEMO_TRIALS, real_demo_config

    zoo = fake_real_zoo(tmp_path)
    config = real_demo_config(zoo)
    # The LoRA adapters are the sources, not merged checkpoints.
    assert [m.path for m in config.models] == [zoo.adapters[t] for t in zoo.expert_tasks]
    assert config.model_names == zoo.expert_tasks and config.base == zoo.base
    assert [o.resolved_name for o in config.searched_objectives] == list(zoo.expert_tasks)
    [held_out] = config.reported_objectives
    assert held_out.resolved_name == "arithmetic.1_digit_multiplication" and held_out.data == zoo.tests[held_out.name]
    for spec in config.objectives:
        assert spec.kind == "exact_match" and spec.limit == REAL_DEMO_LIMIT and spec.data == zoo.tests[spec.name]
    assert config.budget.trials == REAL_DEMO_TRIALS and config.budget.initial == DEMO_INITIAL
    assert config.proposer == "qlognehvi" and config.device == "cpu"
    # What `mmmo demo --real` writes beside its campaign loads back as the same campaign.
    assert load_config(write_config(config, tmp_path / "demo.yaml")) == config


def test_real_demo_cli_builds_its_config_from_the_real_zoo(tmp_path, monkeypatch):
    import argparse

    import mmmo.realzoo.build as build
    from mmmo import cli
    from mmmo.errors import ConfigError

    zoo = fake_real_zoo(tmp_path)
    monkeypatch.setattr(build, "real_zoo_dir", lambda config: tmp_path)
    monkeypatch.setattr(build, "build_real_zoo", lambda config, log=None: zoo)
    args = argparse.Namespace(real=True, zoo="default", trials=5, seed=2, limit=3)
    config = cli._new_demo_config(args)
    assert config.name == "real-demo" and config.base == zoo.base
    assert config.budget.trials == 5 and config.seed == 2
    assert {spec.limit for spec in config.objectives} == {3}
    with pytest.raises(ConfigError, match="--real and --zoo tiny"):
        cli._new_demo_config(argparse.Namespace(real=True, zoo="tiny", trials=None, seed=0, limit=None))
