"""A multi-fidelity campaign end to end on the tiny zoo: screens, promotions, cost, front."""

from __future__ import annotations

import pytest
from botorch.test_utils.mock import mock_optimize_context_manager

from mmmo.campaign import Campaign
from mmmo.demo import demo_config
from mmmo.errors import ConfigError
from mmmo.evaluation import TrialEvaluator, TrialRequest

LIMIT = 20  # examples per objective; 3 objectives


def fidelity_config(zoo, budget=None, **fidelity):
    config = demo_config(zoo, trials=10, batch_size=2, limit=LIMIT).model_dump(mode="json")
    config["recipes"] = False
    config["budget"] = budget or {"trials": 10, "initial": 4, "batch_size": 2}
    config["fidelity"] = {"schedule": [0.25, 1.0], **fidelity}
    return config


@pytest.fixture(scope="module")
def run(tiny_zoo, tmp_path_factory):
    path = tmp_path_factory.mktemp("mf") / "c.sqlite"
    with Campaign.create(path, fidelity_config(tiny_zoo, beta=3.0, acquisition="nehvi")) as campaign:
        with mock_optimize_context_manager():
            campaign.run()
    return Campaign.open(path, readonly=True)


def test_new_points_are_screened_and_contenders_promoted_with_their_own_plan(run):
    trials = run.trials()
    searched = trials[trials["origin"] == "searched"]
    assert set(searched["fidelity"]) == {0.25, 1.0}
    promotions = searched[searched["proposer"] == "promotion"]
    screens = searched[searched["proposer"] != "promotion"]
    assert len(promotions) >= 1 and (screens["fidelity"] == 0.25).all()
    assert (promotions["fidelity"] == 1.0).all()
    # A screen scores ceil(0.25 * 20) = 5 examples per objective, a promotion the other 15.
    assert (screens["cost"] == 15).all() and (promotions["cost"] == 45).all()
    parameters = [c for c in trials.columns if c.startswith(("weight[", "density["))]
    for _, promotion in promotions.iterrows():
        parent = trials[trials["trial_id"] == promotion["promoted_from"]].iloc[0]
        assert parent["fidelity"] == 0.25 and parent["seed"] == promotion["seed"]
        assert parent[parameters].tolist() == promotion[parameters].tolist()
    assert searched["promoted_from"].dropna().is_unique  # a trial is promoted once
    assert (trials[trials["origin"] == "reference"]["fidelity"] == 1.0).all()


def test_a_promoted_trial_scores_what_a_fresh_full_evaluation_scores(run):
    trials = run.trials()
    promotion = trials[trials["proposer"] == "promotion"].iloc[0]
    record = next(r for r in run._store.trials() if r.trial_id == promotion["trial_id"])
    evaluator = TrialEvaluator(run.config, data_seed=run._data_seed())
    fresh = evaluator.evaluate(TrialRequest(record.trial_id, dict(record.plan)))  # no fidelity: all examples
    for name in run.objective_names:
        assert record.measurements[name].value == fresh.measurements[name]["value"]
        assert record.measurements[name].n == LIMIT


def test_front_holds_full_fidelity_members_unless_asked_for_all(run):
    front = run.front()
    assert (front["fidelity"] == 1.0).all()
    everything = run.front(all_fidelities=True)
    assert "fidelity" in everything.columns and len(everything) >= 1


def test_hypervolume_history_counts_examples_and_only_full_fidelity_scores(run):
    history = run.hypervolume_history()
    trials = run.trials()
    searched = trials[trials["origin"] == "searched"]
    assert history["examples"].is_monotonic_increasing
    assert history["examples"].iloc[-1] == searched["cost"].sum()
    assert history["seconds"].iloc[-1] > 0
    # A screening trial adds cost, never hypervolume.
    screens = set(searched[searched["fidelity"] < 1]["trial_id"])
    rises = history["hypervolume"].diff().fillna(0) > 0
    assert not any(t in screens for t in history[rises]["trial_id"])


def test_an_examples_budget_stops_the_run(tiny_zoo, tmp_path):
    budget = {"trials": 100, "initial": 4, "batch_size": 1, "examples": 200}
    with Campaign.create(tmp_path / "c.sqlite", fidelity_config(tiny_zoo, budget=budget, promote="halving", eta=2)) as c:
        c.run()
        searched = c.trials().query("origin == 'searched'")
    spent = searched["cost"].sum()
    assert 200 <= spent < 200 + 45  # stops once spent; the last trial may go over by at most a promotion
    assert len(searched) < 100


@pytest.mark.parametrize("acquisition", ["momf", "hvkg"])
def test_a_cost_aware_campaign_screens_new_points_and_promotes_only_screens(tiny_zoo, tmp_path, acquisition):
    from botorch.test_utils.mock import mock_optimize_context_manager

    budget = {"trials": 8, "initial": 3, "batch_size": 1}
    config = fidelity_config(tiny_zoo, budget=budget, surrogate="input", acquisition=acquisition)
    with Campaign.create(tmp_path / "c.sqlite", config) as c, mock_optimize_context_manager():
        c.run()
        trials = c.trials().query("origin == 'searched'")
    assert len(trials) == 8 and (trials["status"] == "complete").all()
    assert (trials["proposer"] == "qlognehvi").any()  # the model chose some, after the design
    screens = trials[trials["proposer"] != "promotion"]
    assert (screens["fidelity"] == 0.25).all()
    for _, promotion in trials[trials["proposer"] == "promotion"].iterrows():
        assert promotion["fidelity"] == 1.0 and promotion["seed"] in set(screens["seed"])  # its parent's seed


@pytest.mark.parametrize(
    ("fidelity", "acquisition", "surrogate"),
    [
        ({}, "momf", "input"),  # the measured default
        ({"promote": "halving"}, "nehvi", "noise"),
        ({"surrogate": "noise"}, "nehvi", "noise"),
        ({"acquisition": "nehvi"}, "nehvi", "noise"),
        ({"acquisition": "hvkg"}, "hvkg", "input"),
        ({"surrogate": "input"}, "momf", "input"),
    ],
)
def test_unset_fidelity_rules_follow_the_ones_set(fidelity, acquisition, surrogate):
    from mmmo.config import FidelityConfig

    config = FidelityConfig(schedule=[0.25, 1.0], **fidelity)
    assert (config.acquisition, config.surrogate) == (acquisition, surrogate)


def test_halving_promotes_the_top_of_each_rung(tiny_zoo, tmp_path):
    budget = {"trials": 9, "initial": 0, "batch_size": 1}
    with Campaign.create(tmp_path / "c.sqlite", fidelity_config(tiny_zoo, budget=budget, promote="halving", eta=3)) as c:
        c.run()
        trials = c.trials().query("origin == 'searched'")
    screens = trials[trials["proposer"] == "sobol"]
    promotions = trials[trials["proposer"] == "promotion"]
    assert len(promotions) >= 1 and len(screens) + len(promotions) == 9
    assert len(promotions) <= len(screens) // 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fidelity": {"schedule": [0.0, 1.0]}}, r"fidelity\.schedule.*\(0, 1\]"),
        ({"fidelity": {"schedule": [0.5, 1.5]}}, r"fidelity\.schedule.*\(0, 1\]"),
        ({"fidelity": {"schedule": [0.25, 0.5]}}, r"fidelity\.schedule.*last fidelity must be 1"),
        ({"fidelity": {"schedule": [0.5, 0.25, 1.0]}}, r"fidelity\.schedule.*increase"),
        ({"budget": {"trials": 5, "initial": 2, "examples": 59}}, r"budget\.examples: 59 is below one full evaluation \(60"),
        ({"fidelity": {"schedule": [0.25, 1.0], "acquisition": "momf", "surrogate": "noise"}},
         r"fidelity: .*acquisition: momf .* set surrogate: input \(got noise\)"),
        ({"fidelity": {"schedule": [0.25, 1.0], "acquisition": "hvkg", "surrogate": "input", "promote": "halving"}},
         r"fidelity: .*acquisition: hvkg chooses the promotions itself; it needs promote: posterior"),
    ],
)
def test_bad_fidelity_input_is_refused_before_any_trial(tiny_zoo, tmp_path, change, message):
    config = fidelity_config(tiny_zoo)
    config.update(change)
    with pytest.raises(ConfigError, match=message):
        Campaign.create(tmp_path / "c.sqlite", config)
    assert not (tmp_path / "c.sqlite").exists()


def test_an_objective_that_cannot_be_subset_is_refused(tiny_zoo, tmp_path):
    config = fidelity_config(tiny_zoo)
    config["objectives"].append({"kind": "perplexity", "data": config["objectives"][0]["data"], "name": "ppl"})
    with pytest.raises(ConfigError, match=r"objectives\.3\.kind: objective 'ppl' \(perplexity\) cannot be scored"):
        Campaign.create(tmp_path / "c.sqlite", config)


def test_the_hypervolume_plot_has_a_panel_against_examples(run):
    from mmmo.plots import draw
    from mmmo.plots.data import hypervolume_data

    data = hypervolume_data(run.hypervolume_history())
    assert len(data.examples) == len(data.trials) and data.examples[-1] > 0
    assert [ax.get_xlabel() for ax in draw.draw_hypervolume(data).axes] == [
        "finished searched trials", "examples scored by searched trials"]


def test_mmmo_front_shows_full_fidelity_members_and_all_on_request(run, capsys):
    import json

    from mmmo.cli import main

    assert main(["front", str(run.path), "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full and all(member["fidelity"] == 1.0 for member in full)
    assert main(["front", str(run.path), "--all-fidelities"]) == 0
    assert "fidelity" in capsys.readouterr().out.splitlines()[0].split()
