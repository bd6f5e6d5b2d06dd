"""The search-efficiency benchmark at its smallest setting, end to end, as CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "search_efficiency.py"
METHODS = (
    "mmmo-qlognehvi",
    "mmmo-qlognparego",
    "sobol",
    "random",
    "pymoo-nsga2",
    "optuna-nsga2",
    "optuna-tpe",
    "ax",
    "cmaes",
    "mm-mo-recipe",
)
BUDGET = 5


@pytest.fixture(scope="module")
def search_efficiency():
    """The benchmark script as a module (``benchmarks/`` is not a package)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import search_efficiency as module
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return module


@pytest.mark.slow
def test_every_method_spends_the_budget_and_reports(tiny_zoo, tmp_path: Path) -> None:
    # tiny_zoo builds (or finds) the zoo the script loads, so the subprocess only reads the cache.
    command = [
        sys.executable, str(SCRIPT), "--zoo", "tiny", "--seeds", "1", "--budget", str(BUDGET), "--initial", "4",
        "--limit", "16", "--out", str(tmp_path), "--no-cache-file", "--smoke", "--methods", ",".join(METHODS),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["failures"] == {}
    assert set(result["methods"]) == set(METHODS)
    for name, figures in result["methods"].items():
        # A fraction of the union front of every point found, so never above 1.
        assert 0.0 <= figures["hv_at_budget"] <= 1.0 + 1e-9, name
        # 0: the free reference trials alone reach it (warm runs).
        assert figures["evals_to_90"] is None or 0 <= figures["evals_to_90"] <= BUDGET, name
        assert 0.0 < figures["hv_start"] <= figures["hv_at_budget"] + 1e-12, name
    assert result["reference_hv"] > 0.0

    saved = json.loads((tmp_path / "search_efficiency_runs.json").read_text())
    runs = saved["runs"]
    free = {tuple(round(v, 6) for v in x) for x in saved["settings"]["free"]["X"] if x is not None}
    assert saved["settings"]["warm"] and free  # warm by default, with reference trials in the space
    for run in runs:
        # Every method is charged exactly the budget, each point once, and nothing for the free points.
        charged = {tuple(round(v, 6) for v in x) for x in run["X"]}
        assert len(run["X"]) == BUDGET, run["method"]
        assert len(charged) == BUDGET and not charged & free, run["method"]
    # The paired comparison is about mmmo's qLogNEHVI, against the best of the others and Ax.
    assert result["primary"] == "mmmo-qlognehvi" and result["best_peer"] not in ("mmmo-qlognehvi", "mmmo-qlognparego")
    assert result["paired"]["versus_ax"]["ahead"].endswith("of 1")
    assert set(result["evals_to_best_peer_final"]) == set(METHODS) and result["targets"]["primary"] == "mmmo-qlognehvi"
    # mmmo's model-based methods open with the campaign's initial design: the centre first.
    first = {r["method"]: r["X"][0] for r in runs}
    assert first["mmmo-qlognehvi"] == first["mmmo-qlognparego"] == [0.5] * len(first["sobol"])
    assert first["sobol"] != first["mmmo-qlognehvi"]
    assert (tmp_path / "search_efficiency.png").stat().st_size > 0
    table = (tmp_path / "search_efficiency.md").read_text()
    assert all(f"| {name} |" in table for name in METHODS)


def test_mmmo_options_reach_the_proposer_over_the_smoke_settings(search_efficiency, monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(search_efficiency, "run_mmmo", lambda *args, **options: seen.update(options))
    args = search_efficiency.parse_args(["--mmmo-options", '{"max_baseline": null, "mc_samples": 128}'])
    from mmmo.config import load_space
    from mmmo.search.space import SearchSpace

    space = SearchSpace(load_space("dare_ties"), ["a", "b", "c"], num_layers=2)
    problem = type("Problem", (), {"dim": 6, "num_objectives": 3, "space": space, "limit": 16})()
    search_efficiency.run_method("mmmo-qlognehvi", None, problem, 8, 0, None, smoke=True,
                                 mmmo_options=args.mmmo_options)
    anchors = seen.pop("anchors")
    assert seen == {**search_efficiency.SMOKE_ACQUISITION, "max_baseline": None, "mc_samples": 128, "batch_size": 1,
                    "categorical": {}, "examples": 16, "ties": space.coarse_ties}
    assert anchors.shape == (4, 6)  # every source, then the three pairs, merged at weight 1


def _runs_file(path: Path, method: str, seeds, budget: int = 3) -> Path:
    """A small runs file of one method: 2 tasks, d=2, ``budget`` points per seed."""
    runs = []
    for seed in seeds:
        Y = [[0.1 * (seed + i), 0.3 - 0.1 * i] for i in range(budget)]
        runs.append({"method": method, "seed": seed, "X": [[0.1 * i, 0.2] for i in range(budget)], "Y": Y,
                     "seconds_eval": [0.1] * budget, "seconds_wall": 1.0, "seconds_propose": 0.5})
    settings = {"zoo": "tiny", "seeds": len(seeds), "budget": budget, "initial": 1, "limit": 16,
                "tasks": ["a", "b"], "dim": 2, "merges_computed": budget * len(seeds), "wall_seconds": 2.0}
    path.write_text(json.dumps({"settings": settings, "anchors": {"base": [0.0, 0.0], "a": [1.0, 0.0], "b": [0.0, 1.0]},
                                "campaign_ref_point": [-0.1, -0.1], "runs": runs, "failures": {}}))
    return path


def test_runs_of_other_settings_are_summarised_side_by_side(search_efficiency, tmp_path: Path) -> None:
    ours = _runs_file(tmp_path / "ours.json", "mmmo-qlognehvi", seeds=(0, 1))
    wide = _runs_file(tmp_path / "wide.json", "mmmo-qlognehvi[wide]", seeds=(0, 1))
    better = json.loads(wide.read_text())
    for run in better["runs"]:
        run["Y"][0] = [0.9, 0.9]
    wide.write_text(json.dumps(better))
    peer = _runs_file(tmp_path / "peer.json", "sobol", seeds=(0, 1))
    result = search_efficiency.main(["--from-runs", str(ours), str(wide), str(peer), "--out", str(tmp_path / "out")])
    assert set(result["methods"]) == {"mmmo-qlognehvi", "mmmo-qlognehvi[wide]", "sobol"}
    assert result["methods"]["mmmo-qlognehvi[wide]"]["hv_at_budget"] > result["methods"]["mmmo-qlognehvi"]["hv_at_budget"]
    # A tagged run of mmmo's own proposer is not a peer to beat, nor a rival for the highest hypervolume.
    assert result["targets"]["best_peer"] == result["best_peer"] == "sobol"
    assert result["targets"]["highest_hv_at_budget"]
    assert "| mmmo-qlognehvi[wide] |" in (tmp_path / "out" / "search_efficiency.md").read_text()

    other_budget = _runs_file(tmp_path / "other.json", "sobol", seeds=(0,), budget=4)
    with pytest.raises(SystemExit, match="another problem"):
        search_efficiency.main(["--from-runs", str(ours), str(other_budget), "--out", str(tmp_path / "out2")])


def test_a_later_runs_file_replaces_a_method_and_seed_of_an_earlier_one(search_efficiency, tmp_path: Path) -> None:
    earlier = _runs_file(tmp_path / "earlier.json", "sobol", seeds=(0, 1))
    rerun = json.loads(earlier.read_text())
    rerun["runs"] = rerun["runs"][1:]
    rerun["runs"][0]["Y"] = [[0.9, 0.9]] * 3  # seed 1, now far better
    (tmp_path / "rerun.json").write_text(json.dumps(rerun))
    runs = search_efficiency.load_runs([earlier, tmp_path / "rerun.json"], search_efficiency.parse_args([]))[0]
    assert [(r["seed"], r["Y"][0]) for r in runs] == [(0, [0.0, 0.3]), (1, [0.9, 0.9])]


def test_first_seed_and_tag_name_the_stored_runs(search_efficiency, tiny_zoo, tmp_path: Path) -> None:
    search_efficiency.main(["--zoo", "tiny", "--methods", "sobol", "--first-seed", "2", "--seeds", "1", "--budget", "3",
                            "--initial", "2", "--limit", "4", "--tag", "t", "--no-cache-file", "--out", str(tmp_path),
                            "--cold"])
    saved = json.loads((tmp_path / "search_efficiency_runs.json").read_text())
    runs = saved["runs"]
    assert [(r["method"], r["seed"]) for r in runs] == [("sobol[t]", 2)]
    assert saved["settings"]["warm"] is False and saved["settings"]["free"] is None
    # Seed 2's design, not seed 0's, from the start: a cold run has no free point in its history.
    import torch

    from mmmo.search.proposers import make_proposer

    empty = torch.zeros(0, 6, dtype=torch.float64)
    seed2 = make_proposer("sobol", seed=2).propose(empty, torch.zeros(0, 3), empty, 2)
    assert torch.allclose(torch.tensor(runs[0]["X"][:2], dtype=torch.float64), seed2, atol=1e-6)


def test_layers_report_pairs_seeds_and_counts_evaluations_to_the_best_peer(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import layers_report

    def runs_file(path, method, rows_by_seed):
        runs = [{"method": method, "seed": seed, "X": [[0.5, 0.5]] * len(Y), "Y": Y, "seconds_eval": [0.1] * len(Y),
                 "seconds_wall": 1.0, "seconds_propose": 0.4} for seed, Y in rows_by_seed.items()]
        settings = {"zoo": "deep", "space": "dare_ties_layers", "seeds": 2, "budget": 4, "initial": 1, "limit": 8,
                    "tasks": ["a", "b"], "dim": 2, "merges_computed": 8, "wall_seconds": 1.0}
        path.write_text(json.dumps({"settings": settings, "anchors": {"base": [0.0, 0.0]}, "campaign_ref_point": [0, 0],
                                    "runs": runs, "failures": {}}))
        return path

    ours = runs_file(tmp_path / "ours.json", "mmmo-saas", {
        0: [[0.1, 0.1], [0.6, 0.6], [0.6, 0.6], [0.7, 0.7]], 1: [[0.1, 0.1], [0.2, 0.2], [0.2, 0.2], [0.3, 0.3]]})
    peer = runs_file(tmp_path / "peer.json", "optuna-tpe", {
        0: [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.5, 0.5]], 1: [[0.1, 0.1], [0.4, 0.4], [0.4, 0.4], [0.4, 0.4]]})
    model = runs_file(tmp_path / "model.json", "mmmo-model-qlognehvi", {0: [[0.2, 0.2]] * 4})
    result = layers_report.main([str(ours), str(peer), str(model), "--ours", "mmmo-saas", "--out", str(tmp_path / "t.md")])
    versus = result["versus_best_peer"]
    assert versus["best_peer"] == "optuna-tpe"
    assert [p["ahead"] for p in versus["paired"]] == [True, False]
    # Seed 0 reaches the peer's final 0.5 at its second point; seed 1 never reaches 0.4.
    assert versus["evals_to_best_peer_final"] == [2, 5]
    assert not versus["targets"]["best_peer_final_in_60_percent"]
    matters = result["per_layer_matters"]
    assert matters["model_front_points_dominated_by_per_layer"] == 1
    assert matters["best_mean_accuracy_per_layer"] == pytest.approx(0.7)
    assert result["methods"]["mmmo-saas"]["proposal_s_per_point"] == pytest.approx(0.1)
    assert "mmmo-saas against the best peer, optuna-tpe" in (tmp_path / "t.md").read_text()


@pytest.mark.slow
def test_per_layer_space_and_the_model_level_method_spend_the_budget(tiny_zoo, tmp_path: Path) -> None:
    methods = ("mmmo-saas", "mmmo-model-qlognehvi", "optuna-tpe")
    command = [
        sys.executable, str(SCRIPT), "--zoo", "tiny", "--space", "dare_ties_layers", "--seeds", "1", "--budget",
        str(BUDGET), "--initial", "3", "--limit", "8", "--out", str(tmp_path), "--no-cache-file", "--smoke",
        "--mmmo-batch", "2", "--methods", ",".join(methods),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failures"] == {} and set(result["methods"]) == set(methods)
    saved = json.loads((tmp_path / "search_efficiency_runs.json").read_text())
    assert saved["settings"]["space"] == "dare_ties_layers" and saved["settings"]["dim"] == 3 * 4 * 2
    dims = {r["method"]: len(r["X"][0]) for r in saved["runs"]}
    # The model-level method searches the dare_ties space (a weight and a density per expert) on the same models.
    assert dims == {"mmmo-saas": 24, "mmmo-model-qlognehvi": 6, "optuna-tpe": 24}
    assert all(len(r["X"]) == BUDGET for r in saved["runs"])


def test_only_seeds_summarises_the_chosen_seeds_alone(search_efficiency, tmp_path: Path) -> None:
    both = _runs_file(tmp_path / "both.json", "sobol", seeds=(0, 1))
    one = _runs_file(tmp_path / "one.json", "ax", seeds=(0,))
    result = search_efficiency.main(["--from-runs", str(both), str(one), "--only-seeds", "0",
                                     "--out", str(tmp_path / "out")])
    assert {name: figures["hv_at_budget_std"] for name, figures in result["methods"].items()} == {"sobol": 0.0, "ax": 0.0}
    saved = json.loads((tmp_path / "out" / "search_efficiency_runs.json").read_text())
    assert sorted((r["method"], r["seed"]) for r in saved["runs"]) == [("ax", 0), ("sobol", 0)]
    with pytest.raises(SystemExit, match="no run of these seeds"):
        search_efficiency.main(["--from-runs", str(one), "--only-seeds", "5", "--out", str(tmp_path / "none")])


def _flat_runs_file(path: Path, rows_by_method: dict[str, dict[int, list[float]]], budget: int = 4,
                    free: list[list[float]] | None = None) -> Path:
    """A runs file whose points are all on the diagonal ``[v, v]``: each front is its best point.

    ``rows_by_method``: method -> seed -> the ``v`` of each evaluation. With the
    anchors below the reference point is ``[-0.1, -0.1]``, so a run's
    hypervolume grows with its best ``v``.
    """
    runs = [{"method": method, "seed": seed, "X": [[0.5, 0.5]] * budget, "Y": [[v, v] for v in values],
             "seconds_eval": [0.1] * budget, "seconds_wall": 1.0, "seconds_propose": 0.5 + seed}
            for method, by_seed in rows_by_method.items() for seed, values in by_seed.items()]
    settings = {"zoo": "tiny", "seeds": 6, "budget": budget, "initial": 1, "limit": 16, "tasks": ["a", "b"], "dim": 2,
                "merges_computed": 0, "wall_seconds": 1.0, "warm": free is not None,
                "free": None if free is None else {"labels": [f"r{i}" for i in range(len(free))],
                                                   "X": [None] * len(free), "Y": free}}
    path.write_text(json.dumps({"settings": settings, "anchors": {"base": [0.0, 0.0], "a": [1.0, 0.0], "b": [0.0, 1.0]},
                                "campaign_ref_point": [-0.1, -0.1], "runs": runs, "failures": {}}))
    return path


SIX = range(6)
#: mmmo reaches 0.6 on seeds 0-3 (0.5, past sobol's 0.45, at its third point) and stays at 0.1 on seeds 4-5;
#: Ax ends at 0.4 and sobol at 0.45 on every seed, so sobol is the best peer.
PAIRED = {
    "mmmo-qlognehvi": {s: [0.1, 0.3, 0.5, 0.6] if s < 4 else [0.1] * 4 for s in SIX},
    "ax": {s: [0.2, 0.2, 0.2, 0.4] for s in SIX},
    "sobol": {s: [0.45] * 4 for s in SIX},
}


def test_paired_seeds_wins_and_evaluations_to_the_best_peers_final_hv(search_efficiency, tmp_path: Path) -> None:
    runs = _flat_runs_file(tmp_path / "runs.json", PAIRED)
    result = search_efficiency.main(["--from-runs", str(runs), "--out", str(tmp_path / "out")])
    assert result["primary"] == "mmmo-qlognehvi" and result["best_peer"] == "sobol"
    # Hypervolume fractions: (v + 0.1)^2 / 0.7^2 against the union front's best point, 0.6.
    assert result["best_peer_final_hv"] == pytest.approx(0.55**2 / 0.7**2)
    versus_peer, versus_ax = result["paired"]["versus_best_peer"], result["paired"]["versus_ax"]
    assert [row["ahead"] for row in versus_peer["seeds"]] == [True] * 4 + [False] * 2
    assert versus_peer["ahead"] == versus_ax["ahead"] == "4 of 6"
    assert versus_ax["seeds"][0]["difference"] == pytest.approx(1.0 - 0.5**2 / 0.7**2)
    reach = result["evals_to_best_peer_final"]
    # mmmo: 3 evaluations on seeds 0-3, never on seeds 4-5 (counted budget + 1 = 5); Ax never; sobol at once.
    assert reach["mmmo-qlognehvi"] == {"mean_censored": pytest.approx((4 * 3 + 2 * 5) / 6), "reached": "4/6"}
    assert reach["ax"] == {"mean_censored": 5.0, "reached": "0/6"}
    assert reach["sobol"] == {"mean_censored": 1.0, "reached": "6/6"}
    found = result["targets"]
    assert found["highest_hv_at_budget"] and found["ahead_of_ax_on_4_of_6_seeds"]
    assert found["ahead_of_best_peer_on_4_of_6_seeds"] and found["seeds_ahead_of_ax"] == "4 of 6"
    assert found["evals_to_best_peer_final"] == pytest.approx(22 / 6) and not found["best_peer_final_in_60_percent"]
    assert found["seconds_propose_per_run"] == pytest.approx(3.0)  # 0.5 + seed, over seeds 0-5
    table = (tmp_path / "out" / "search_efficiency.md").read_text()
    assert "mmmo-qlognehvi against the best peer, sobol, per seed" in table
    assert "mmmo-qlognehvi against Ax, ax, per seed" in table and "| 4 | 0.082 | 0.510 | -0.429 | no |" in table
    assert "evals to sobol's final HV (0.617)" in table and "| 3.7 (4/6 seeds) |" in table

    # One seed fewer ahead of Ax: 3 of 6 misses the target.
    PAIRED_3 = {**PAIRED, "ax": {**PAIRED["ax"], 0: [0.2, 0.2, 0.2, 0.7]}}
    result = search_efficiency.main(["--from-runs", str(_flat_runs_file(tmp_path / "r3.json", PAIRED_3)),
                                     "--out", str(tmp_path / "out3")])
    assert result["targets"]["seeds_ahead_of_ax"] == "3 of 6" and not result["targets"]["ahead_of_ax_on_4_of_6_seeds"]


def test_primary_may_be_a_tagged_run_and_tagged_runs_are_no_peers(search_efficiency, tmp_path: Path) -> None:
    rows = {**PAIRED, "mmmo-qlognehvi[warp]": {s: [0.3] * 4 for s in SIX}, "sobol[other]": {s: [0.9] * 4 for s in SIX}}
    runs = _flat_runs_file(tmp_path / "runs.json", rows)
    result = search_efficiency.main(["--from-runs", str(runs), "--primary", "mmmo-qlognehvi[warp]",
                                     "--out", str(tmp_path / "out")])
    assert result["primary"] == result["targets"]["primary"] == "mmmo-qlognehvi[warp]"
    assert result["best_peer"] == "sobol"  # not sobol[other], a run of other settings
    assert result["paired"]["versus_best_peer"]["ahead"] == "0 of 6"
    # Against the untagged methods: mmmo-qlognehvi's mean is higher than [warp]'s.
    assert not result["targets"]["highest_hv_at_budget"]
    assert result["evals_to_best_peer_final"]["mmmo-qlognehvi[warp]"]["reached"] == "0/6"
    # A primary with no runs: every method's evaluations to the best peer's HV, and nothing paired.
    result = search_efficiency.main(["--from-runs", str(runs), "--primary", "mmmo-saas", "--out", str(tmp_path / "o2")])
    assert result["paired"] == {} and result["targets"] == {} and result["best_peer"] == "sobol"


def test_warm_runs_count_the_free_trials_from_evaluation_zero(search_efficiency, tmp_path: Path) -> None:
    # The free trials alone ([0.58, 0.58]) beat every peer's own points: the best peer's final HV is theirs,
    # and every method has reached it at evaluation 0.
    runs = _flat_runs_file(tmp_path / "runs.json", PAIRED, free=[[0.58, 0.58], [0.0, 0.0]])
    result = search_efficiency.main(["--from-runs", str(runs), "--out", str(tmp_path / "out")])
    start = 0.68**2 / 0.7**2
    assert all(m["hv_start"] == pytest.approx(start) for m in result["methods"].values())
    assert result["best_peer_final_hv"] == pytest.approx(start)
    assert {name: r["mean_censored"] for name, r in result["evals_to_best_peer_final"].items()} == {
        "mmmo-qlognehvi": 0.0, "ax": 0.0, "sobol": 0.0}
    assert result["methods"]["sobol"]["evals_to_90"] == 0.0 and result["methods"]["sobol"]["evals_to_95"] is None
    # mmmo's 0.6 on seeds 0-3 tops the free trials; on seeds 4-5 it ties the peers, and a tie is no win.
    assert result["paired"]["versus_ax"]["ahead"] == "4 of 6"
    assert [r["difference"] for r in result["paired"]["versus_ax"]["seeds"]][4:] == [0.0, 0.0]
    assert result["methods"]["mmmo-qlognehvi"]["evals_to_95"] is None
    assert result["methods"]["mmmo-qlognehvi"]["reached_95"] == "4/6"


def test_the_plotted_curve_starts_at_evaluation_zero_when_warm(search_efficiency) -> None:
    import search_summary  # beside search_efficiency, on the path the fixture set

    figures = {"curve_mean": [0.4, 0.6], "curve_std": [0.1, 0.1], "hv_start": 0.3, "warm": True}
    steps, mean, std = search_summary.curve_points(figures)
    assert steps.tolist() == [0, 1, 2] and mean.tolist() == [0.3, 0.4, 0.6] and std.tolist() == [0.0, 0.1, 0.1]
    steps, mean, _ = search_summary.curve_points({**figures, "warm": False, "hv_start": 0.0})
    assert steps.tolist() == [1, 2] and mean.tolist() == [0.4, 0.6]


def test_layers_report_counts_tied_points_of_per_layer_runs_as_model_level(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import layers_report

    settings = {"zoo": "deep", "space": "dare_ties_layers", "tasks": ["a", "b", "c"], "dim": 60}
    ties = layers_report.model_level_ties(settings)
    assert len(ties) == 60 and max(ties) == 5
    assert layers_report.model_level_ties({**settings, "dim": 2}) is None  # another problem: no ties
    z = np.linspace(0.1, 0.6, 6)
    tied, free = z[list(ties)], z[list(ties)].copy()
    free[7] += 0.2  # one layer's value of one source moved
    assert layers_report.on_model_level_subspace(np.stack([tied, free]), ties).tolist() == [True, False]
    ref = torch.zeros(2, dtype=torch.float64)
    runs = [{"method": "mmmo-coarse_to_fine", "X": [tied.tolist(), free.tolist()], "Y": [[0.5, 0.5], [0.6, 0.6]]},
            {"method": "mmmo-model-qlognehvi", "X": [[0.0] * 6], "Y": [[0.4, 0.4]]}]
    matters = layers_report.per_layer_matters(runs, ref, ties)
    assert (matters["model_level_points"], matters["per_layer_points"]) == (2, 1)
    assert matters["model_front_points_dominated_by_per_layer"] == 1 and matters["union_front_per_layer_points"] == 1
    assert matters["best_mean_accuracy_model_level"] == pytest.approx(0.5)
    assert matters["best_pair_minimum"]["0,1"] == {"model_level": pytest.approx(0.5), "per_layer": pytest.approx(0.6)}
    # The free reference trials (base, sources, recipes) are model-level merges too.
    with_free = layers_report.per_layer_matters(runs, ref, ties, free=np.array([[0.7, 0.7]]))
    assert with_free["model_level_points"] == 3 and with_free["model_front_points_dominated_by_per_layer"] == 0


def test_every_mmmo_method_is_ours_and_no_peer(search_efficiency, tmp_path: Path) -> None:
    ours = {m for m in search_efficiency.METHODS if m.startswith("mmmo-")}
    assert ours == set(search_efficiency.MMMO_METHODS)
    # An mmmo method that is not the primary is never the best peer, however high its hypervolume.
    rows = {**PAIRED, "mmmo-coarse_to_fine": {s: [0.95] * 4 for s in SIX}}
    runs = _flat_runs_file(tmp_path / "runs.json", rows)
    result = search_efficiency.main(["--from-runs", str(runs), "--primary", "mmmo-qlognehvi",
                                     "--out", str(tmp_path / "o")])
    assert result["best_peer"] not in ours
