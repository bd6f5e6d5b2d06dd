"""Campaign config validation: every error names the field and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmmo.config import CampaignConfig, load_config, parse_config
from mmmo.errors import ConfigError


def _raw(**changes) -> dict:
    raw = {
        "name": "t",
        "base": "/models/base",
        "models": ["/models/math", {"path": "/models/code", "name": "coder"}],
        "space": {"method": "dare_ties", "parameters": {"weight": [0, 1], "density": [0.1, 1]}},
        "objectives": [
            {"kind": "exact_match", "data": "/data/math.jsonl", "limit": 50},
            {"kind": "delta_l2"},
        ],
        "budget": {"trials": 10, "batch_size": 2, "initial": 4},
    }
    raw.update(changes)
    return raw


def _error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="c.yaml")
    return str(info.value)


def test_valid_config_has_defaults_and_resolved_names():
    config = parse_config(_raw())
    assert config.model_names == ("math", "coder")
    assert config.objective_names == ("math_exact_match", "delta_l2")
    assert [o.resolved_direction for o in config.objectives] == ["maximize", "minimize"]
    assert config.proposer == "qlognehvi" and config.device == "auto" and config.dtype == "auto"
    assert config.budget.trials == 10 and config.seed == 0 and config.reference_point is None
    # The same model from Python, without YAML.
    assert CampaignConfig(**_raw()) == config


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"budgett": 3}, "c.yaml: budgett: unknown field"),
        ({"budget": {"trials": 10, "trails": 3}}, "c.yaml: budget.trails: unknown field"),
        ({"budget": {"trials": 0}}, "c.yaml: budget.trials: Input should be greater than 0"),
        ({"budget": {"trials": "many"}}, "c.yaml: budget.trials: Input should be a valid integer"),
        ({"budget": {"trials": 3, "initial": 5}}, "budget.initial (5) exceeds budget.trials (3)"),
        ({"proposer": "ehvi"}, "c.yaml: proposer: Value error, unknown proposer 'ehvi'; expected one of design, sobol, random, qlognehvi, qlognparego"),
        ({"device": "tpu"}, "c.yaml: device: Input should be 'auto', 'cpu' or 'cuda'"),
        ({"dtype": "int8"}, "c.yaml: dtype: Input should be 'auto', 'float32', 'bfloat16' or 'float16'"),
        ({"models": []}, "c.yaml: models: List should have at least 1 item"),
        ({"models": ["/a/math", "/b/math"]}, "model names must be unique, got ['math', 'math']"),
        ({"reference_point": {"speed": 1.0}}, "reference_point names unknown objectives ['speed']"),
        ({"space": {"method": "soup"}}, "c.yaml: space.method: Value error, unknown method 'soup'; expected one of linear, task_arithmetic, ties"),
        ({"space": {"method": ["ties", "soup"]}}, "space.method: Value error, unknown method 'soup'"),
        ({"space": {"method": 3}}, "c.yaml: space.method: Input should be a valid string"),
        ({"space": {"method": "ties", "parameters": {"wieght": [0, 1]}}}, "c.yaml: space.parameters.wieght: Input should be 'weight' or 'density'"),
        ({"reference_point": {"delta_l2": "far"}}, "c.yaml: reference_point.delta_l2: Input should be a valid number"),
        ({"space": {"method": []}}, "method list is empty"),
        ({"space": {"method": "ties", "parameters": {"density": [0, 1]}}}, "density bounds must lie in (0, 1]"),
        ({"space": {"method": "ties", "parameters": {"weight": [1, 0]}}}, "space.parameters.weight: Value error, low must be below high"),
        ({"space": {"method": "ties", "granularity": {"blocks": 0}}}, "blocks must be >= 1, got 0"),
        ({"space": {"method": "ties", "learning_rate": 1}}, "c.yaml: space.learning_rate: unknown field"),
    ],
)
def test_error_names_field_and_expectation(changes, expected):
    assert expected in _error(_raw(**changes))


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        ({"kind": "bleu", "data": "x.jsonl"}, "c.yaml: objectives.0.kind: Value error, unknown objective kind 'bleu'; expected one of exact_match, token_accuracy"),
        ({"kind": "exact_match"}, "objectives.0: Value error, kind 'exact_match' needs 'data'"),
        ({"kind": "lm_eval"}, "kind 'lm_eval' needs 'task'"),
        ({"kind": "callable", "function": "score"}, "function must look like 'module:attribute', got 'score'"),
        ({"kind": "perplexity", "data": "t.txt", "limit": 0}, "objectives.0.limit: Input should be greater than 0"),
        ({"kind": "perplexity", "data": "t.txt", "direction": "up"}, "objectives.0.direction: Input should be 'maximize' or 'minimize'"),
        ({"kind": "perplexity", "data": "t.txt", "lmit": 5}, "c.yaml: objectives.0.lmit: unknown field"),
    ],
)
def test_objective_errors_name_the_objective_field(objective, expected):
    assert expected in _error(_raw(objectives=[objective]))


def test_union_alternatives_share_one_line_under_the_field_name():
    message = _error(_raw(space={"method": 3}))
    assert message.count("\n") == 0
    assert "literal[" not in message and "list[" not in message and "; or: Input should be a valid list" in message


def test_every_problem_is_reported_on_its_own_line():
    message = _error(_raw(budgett=1, proposer="x", seed="zero"))
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("c.yaml: ") for line in lines)
    assert {line.split(": ")[1] for line in lines} == {"budgett", "proposer", "seed"}


def test_duplicate_objective_names_suggest_setting_name():
    objectives = [{"kind": "delta_l2"}, {"kind": "delta_l2"}]
    assert "objective names must be unique, got ['delta_l2', 'delta_l2']; set 'name'" in _error(
        _raw(objectives=objectives)
    )


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="c.yaml: expected a mapping at the top level, got list"):
        parse_config([1, 2], source="c.yaml")


def test_unknown_space_preset_lists_presets():
    with pytest.raises(ConfigError, match="space: no preset or file 'no_such_space'; presets are"):
        parse_config(_raw(space="no_such_space"))


def test_load_config_resolves_relative_paths_against_its_folder(tmp_path: Path):
    folder = tmp_path / "campaigns"
    (folder / "models" / "base").mkdir(parents=True)
    (folder / "models" / "math").mkdir(parents=True)
    raw = _raw(base="models/base", models=["models/math"],
               objectives=[{"kind": "exact_match", "data": "data/math.jsonl"}])
    (folder / "c.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(folder / "c.yaml")
    assert config.base == folder / "models" / "base"
    assert config.models[0].path == folder / "models" / "math"
    assert config.objectives[0].data == folder / "data" / "math.jsonl"


def test_hub_ids_stay_as_written_and_name_their_model(tmp_path: Path):
    """A reference shaped like ``owner/name[@revision]`` that names no folder beside
    the config is a hub id: kept as written, named after the repo without the revision."""
    raw = _raw(base="Org/base-model@main", models=["Org/math-expert", "./local/code"])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp_path / "c.yaml")
    assert str(config.base) == "Org/base-model@main"
    assert str(config.models[0].path) == "Org/math-expert"
    assert config.models[1].path == tmp_path / "local" / "code"  # relative path, not a hub id
    assert config.model_names == ("math-expert", "code")


def test_load_config_names_the_file(tmp_path: Path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=f"config file not found: {missing}"):
        load_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{broken}: not valid YAML"):
        load_config(broken)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_raw(budget={"trials": -1})))
    with pytest.raises(ConfigError, match=f"{bad}: budget.trials: Input should be greater than 0"):
        load_config(bad)
