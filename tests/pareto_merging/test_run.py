"""End to end on the test zoo: config -> training -> grid stored as a campaign."""

import json

import pytest
import torch
import yaml

from mmmo.errors import ConfigError, StoreError
from mmmo.pareto_merging import load_run, run_from_config
from mmmo.pareto_merging.preference import simplex_grid


def write_config(tmp_path, zoo, **overrides):
    tasks = list(zoo.expert_tasks)
    raw = {
        "name": "pm-test",
        "base": str(zoo.base),
        "models": [{"path": str(zoo.experts[t]), "name": t} for t in tasks],
        "tasks": [{"name": t, "data": str(zoo.tasks[t].train), "loss": "lm", "limit": 64} for t in tasks],
        "objectives": [
            {"kind": "token_accuracy", "name": t, "data": str(zoo.tasks[t].test), "limit": 32}
            for t in tasks
        ],
        "training": {"steps": 20},
        "grid": {"steps": 2},
        "device": "cpu",
    } | overrides
    path = tmp_path / "pareto.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_run_from_config_stores_the_grid_as_campaign_trials(tiny_zoo, tmp_path):
    config = write_config(tmp_path, tiny_zoo)
    run = run_from_config(config, db=tmp_path / "pm.db", out=tmp_path / "out", progress=False)
    tasks = list(tiny_zoo.expert_tasks)
    grid = simplex_grid(len(tasks), 2)

    assert [list(p.preference.values()) for p in run.grid] == grid.tolist()
    trials = run.campaign.trials()
    ours = trials[trials["proposer"] == "pareto_merging"]
    assert sorted(ours["trial_id"]) == sorted(p.trial_id for p in run.grid)
    assert (ours["status"] == "complete").all()
    for point in run.grid:
        row = ours[ours["trial_id"] == point.trial_id].iloc[0]
        for task in tasks:
            assert row[task] == pytest.approx(point.measurements[task].value)
            assert row[f"preference[{task}]"] == pytest.approx(point.preference[task])
    # The campaign's analysis works on the grid as on a search.
    front = run.campaign.front()
    assert len(front) >= 1 and set(front["trial_id"]) <= set(trials["trial_id"])
    assert len(run.campaign.hypervolume_history()) >= 1
    chosen = run.campaign.select({t: 1.0 if t == tasks[0] else 0.0 for t in tasks})
    assert chosen[tasks[0]] == front[tasks[0]].max()
    from mmmo.plots import plot_campaign

    plots = plot_campaign(run.campaign, tmp_path / "plots")
    assert all(path.stat().st_size > 0 for path in (plots.front, plots.hypervolume, plots.parameters))

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["extra_parameters"] == run.model.num_extra_parameters
    assert summary["extra_fraction"] <= 0.01
    assert len(summary["grid"]) == len(grid)
    assert "extra parameters" in str(run) and str(tmp_path / "pm.db") in str(run)

    # The saved run dials the same weights without retraining.
    reloaded = load_run(tmp_path / "out")
    assert reloaded.num_extra_parameters == run.model.num_extra_parameters
    p = torch.tensor([0.5, 0.25, 0.25])
    for name, weight in run.model.weights_for(p).items():
        assert torch.allclose(reloaded.weights_for(p)[name], weight, atol=1e-6), name


def test_load_run_refuses_a_folder_without_a_run(tmp_path):
    with pytest.raises(ConfigError, match="no saved Pareto Merging run"):
        load_run(tmp_path)


def test_an_existing_campaign_file_is_refused_before_any_work(tiny_zoo, tmp_path):
    config = write_config(tmp_path, tiny_zoo)
    (tmp_path / "pm.db").write_text("")
    with pytest.raises(StoreError, match="already exists"):
        run_from_config(config, db=tmp_path / "pm.db", out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
