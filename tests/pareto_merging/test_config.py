import json

import pytest
import yaml

from mmmo.errors import ConfigError
from mmmo.pareto_merging.config import load_pareto_config, parse_pareto_config
from mmmo.plan import MergePlan

RAW = {
    "base": "zoo/base",
    "models": ["zoo/a", {"path": "zoo/b", "name": "bee"}],
    "tasks": [
        {"name": "a", "data": "data/a.jsonl", "loss": "lm"},
        {"name": "b", "data": "data/b.jsonl"},
    ],
    "objectives": [{"kind": "token_accuracy", "name": "a_acc", "data": "data/a_test.jsonl"}],
    "start": {"plan": "plan.json"},
    "grid": {"steps": 3},
}


def test_yaml_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "pm.yaml"
    path.write_text(yaml.safe_dump(RAW))
    config = load_pareto_config(path)
    assert config.base == tmp_path / "zoo/base"
    assert config.model_names == ("a", "bee")
    assert config.tasks[0].data == tmp_path / "data/a.jsonl"
    assert config.tasks[1].loss == "entropy"
    assert config.objectives[0].data == tmp_path / "data/a_test.jsonl"
    assert config.start.plan == tmp_path / "plan.json"
    assert config.task_names == ("a", "b")
    campaign = config.campaign_config(trials=10)
    assert campaign.objective_names == ("a_acc",)
    assert campaign.model_names == ("a", "bee")
    assert campaign.budget.trials == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tasks": RAW["tasks"][:1]}, "tasks: List should have at least 2 items"),
        ({"training": {"stepz": 3}}, "training.stepz: unknown field"),
        ({"training": {"scalarization": "max"}}, "training.scalarization: Input should be"),
        ({"correction": {"rank": 0}}, "correction.rank: Input should be greater than 0"),
        ({"tasks": [RAW["tasks"][0], RAW["tasks"][0]]}, "task names must be unique"),
        ({"tasks": [RAW["tasks"][0], {"name": "b", "data": "x", "loss": "ce"}]}, "tasks.1.loss"),
    ],
)
def test_bad_fields_are_named(change, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse_pareto_config({**RAW, **change}, source="pm.yaml")


def test_start_plan_is_read_and_checked_against_the_models(tmp_path):
    plan = MergePlan.uniform("ties", ["a", "bee"], weight=[0.5, 1.0], density=0.5)
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_dict()))
    config = parse_pareto_config(RAW, root=tmp_path)
    assert config.start.build_plan(("a", "bee"), seed=0) == plan
    with pytest.raises(ConfigError, match=r"merges \['a', 'bee'\], but the config's models are"):
        config.start.build_plan(("a", "c"), seed=0)
    uniform = parse_pareto_config({**RAW, "start": {"weight": [1.0, 0.5]}})
    assert uniform.start.build_plan(("a", "bee"), seed=0) == MergePlan.uniform(
        "task_arithmetic", ["a", "bee"], weight=[1.0, 0.5]
    )
    wrong = parse_pareto_config({**RAW, "start": {"weight": [1.0, 0.5, 2.0]}})
    with pytest.raises(ConfigError, match="start: need 2 weights"):
        wrong.start.build_plan(("a", "bee"), seed=0)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_pareto_config(tmp_path / "nope.yaml")
