"""``--config``: any campaign config as the benchmarks' problem, checked on the tiny zoo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LIMIT = 4


@pytest.fixture(scope="module")
def scripts():
    """The benchmark scripts as modules (``benchmarks/`` is not a package)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import common
        import front_quality
        import search_efficiency
    finally:
        sys.path.remove(str(BENCHMARKS))
    return common, search_efficiency, front_quality


@pytest.fixture
def tiny_config(tiny_zoo, tmp_path) -> Path:
    """The tiny zoo's demo campaign as a user's YAML file, its held-out task report-only."""
    from mmmo.demo import demo_config, write_config

    data = demo_config(tiny_zoo, limit=LIMIT).to_yaml_dict()
    data["name"] = "mine"
    for task in tiny_zoo.held_out_tasks:
        data["objectives"].append({"kind": "exact_match", "name": task, "data": str(tiny_zoo.tasks[task].test),
                                   "limit": LIMIT, "report_only": True})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_config_poses_the_same_problem_as_the_zoo_it_names(scripts, tiny_config, tiny_zoo, tmp_path):
    common, search_efficiency, _ = scripts
    flags = ["--methods", "sobol", "--seeds", "1", "--budget", "3", "--initial", "2", "--limit", str(LIMIT),
             "--no-cache-file"]
    by_zoo = search_efficiency.main(["--zoo", "tiny", *flags, "--out", str(tmp_path / "zoo")])
    by_config = search_efficiency.main(["--config", str(tiny_config), *flags, "--out", str(tmp_path / "config")])

    def saved(folder):
        return json.loads((tmp_path / folder / "search_efficiency_runs.json").read_text())

    zoo_runs, config_runs = saved("zoo"), saved("config")
    # Same models, space and objectives: the same points score the same.
    assert config_runs["runs"][0]["X"] == zoo_runs["runs"][0]["X"]
    assert config_runs["runs"][0]["Y"] == zoo_runs["runs"][0]["Y"]
    assert config_runs["anchors"] == zoo_runs["anchors"]
    # The report-only objective is not searched on.
    assert config_runs["settings"]["tasks"] == list(tiny_zoo.expert_tasks)
    assert config_runs["settings"]["zoo"].startswith("mine-")
    assert by_config["settings"]["limit"] == LIMIT == by_zoo["settings"]["limit"]
    # Runs of the zoo and of the config are different problems by name: never combined.
    with pytest.raises(SystemExit, match="another problem"):
        search_efficiency.main(["--from-runs", str(tmp_path / "zoo" / "search_efficiency_runs.json"),
                                str(tmp_path / "config" / "search_efficiency_runs.json"), "--out", str(tmp_path / "x")])


def test_front_quality_reports_a_configs_report_only_objectives_as_held_out(scripts, tiny_config, tiny_zoo, tmp_path):
    _, _, front_quality = scripts
    result = front_quality.main(["--config", str(tiny_config), "--budget", "4", "--initial", "3",
                                 "--limit", str(LIMIT), "--no-cache-file", "--runs", str(tmp_path / "none.json"),
                                 "--out", str(tmp_path)])
    assert set(result["held_out"]) == set(tiny_zoo.held_out_tasks)
    for scores in result["held_out"].values():
        assert {"front_min", "front_max", "recipes_max", "base", *tiny_zoo.expert_tasks} <= set(scores)
        assert 0.0 <= scores["front_min"] <= scores["front_max"] <= 1.0
    table = (tmp_path / "front_quality.md").read_text()
    assert f"{tiny_zoo.held_out_tasks[0]} (held out)" in table and "| ties |" in table


def test_the_cache_of_a_config_is_named_by_its_searched_problem(scripts, tiny_config):
    common, _, _ = scripts
    from mmmo.config import load_config

    config = load_config(tiny_config)
    searched = common.searched_only(config)
    # Report-only objectives do not change what a cached score means.
    assert common.problem_hash(searched) == common.problem_hash(config)
    assert common.default_cache_file("default", None, config) == common.default_cache_file("tiny", None, searched)
    other_limit = common.with_limit(config, LIMIT + 1)
    assert all(spec.limit == LIMIT + 1 for spec in other_limit.objectives)
    assert common.problem_hash(other_limit) != common.problem_hash(config)


def test_a_config_that_does_not_load_names_the_field(scripts, tmp_path):
    from mmmo.errors import ConfigError

    common, _, _ = scripts
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: /nowhere\nmodels: [/a]\nspace: dare_ties\nobjectives: [{kind: exact_match}]\n")
    with pytest.raises(ConfigError, match="objectives"):
        common.load_problem_config(bad)
