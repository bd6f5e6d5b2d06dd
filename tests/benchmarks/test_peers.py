"""The peers: a space's categorical coordinate as their own categorical parameter, and warm starts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from peers import (  # noqa: E402
    MMMO_PAPER_INITIAL,
    EvaluationBudget,
    FreeTrials,
    run_ax,
    run_cmaes,
    run_mmmo_paper,
    run_optuna,
    run_pymoo_nsga2,
)

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


# Warm starts: each peer starts from the free in-space points by its library's own mechanism, charged nothing.

FREE = FreeTrials(
    labels=("base", "a", "b", "recipe:linear"),
    X=((0.25, 0.1, 0.9), (0.75, 0.9, 0.1), (0.25, 0.5, 0.5), None),
    Y=((0.1, 0.2), (0.3, float("nan")), (0.6, 0.5), (0.9, 0.9)),
)
FREE_POINTS = [list(x) for x in FREE.X if x is not None]


class RecordingBudget(EvaluationBudget):
    """A budget that also keeps every point it was asked, charged or not."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[list[float]] = []

    def __call__(self, x):
        self.asked.append([float(v) for v in x])
        return super().__call__(x)


def warm_budget(n: int, free: FreeTrials | None = FREE) -> RecordingBudget:
    def evaluate(x):
        return Evaluation((float(x[1]), float(1 - x[1]) + (0.5 if x[0] == 0.75 else 0.0)))

    return RecordingBudget(evaluate, lambda x: ",".join(f"{v:.6f}" for v in x), n, free=free)


def assert_free_points_cost_nothing(f: EvaluationBudget, budget: int) -> None:
    assert len(f.trace.X) == budget
    charged = {tuple(round(v, 6) for v in x) for x in f.trace.X}
    assert not charged & {tuple(round(v, 6) for v in x) for x in FREE_POINTS}


@pytest.mark.slow
def test_ax_holds_the_free_points_as_completed_trials_before_its_own(monkeypatch):
    import ax.api.client

    clients = []

    class Recording(ax.api.client.Client):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clients.append(self)

    monkeypatch.setattr(ax.api.client, "Client", Recording)
    f = warm_budget(4)
    run_ax(f, 3, ["a", "b"], 5, seed=0, categorical={0: CATEGORIES})
    trials = clients[0]._experiment.trials
    # Ax's default counts the attached trials toward its initialisation budget of 5: 2 Sobol points, then its model.
    nodes = [trials[i].generator_runs[0]._generation_node_name for i in range(3, 7)]
    assert nodes == ["Sobol", "Sobol", "MBM", "MBM"]
    assert len(trials) == len(FREE_POINTS) + 4
    attached = [[trials[i].arm.parameters[f"x{j}"] for j in range(3)] for i in range(len(FREE_POINTS))]
    assert attached == FREE_POINTS
    data = clients[0]._experiment.lookup_data(trial_indices=[1]).df
    # A failed score reaches Ax as the worst score, as the method's own failures do.
    assert dict(zip(data["metric_name"], data["mean"])) == {"a": 0.3, "b": 0.0}
    assert_free_points_cost_nothing(f, 4)
    # The centre is not Ax's first point once the experiment holds trials (Ax's own default).
    assert f.trace.X[0] != [0.5, 0.5, 0.5]


@pytest.fixture
def studies(monkeypatch):
    """Every Optuna study a peer creates, kept for the test to read."""
    import optuna

    created = []
    create = optuna.create_study
    monkeypatch.setattr(optuna, "create_study", lambda **kw: created.append(create(**kw)) or created[-1])
    return created


def test_optuna_tpe_study_holds_the_free_points_from_the_start(studies):
    f = warm_budget(5)
    run_optuna(f, "tpe", 3, 2, 4, seed=0, categorical={0: CATEGORIES})
    trials = studies[0].trials
    assert len(trials) == len(FREE_POINTS) + 5
    assert [[t.params[f"x{i}"] for i in range(3)] for t in trials[:3]] == FREE_POINTS
    assert [t.values for t in trials[:3]] == [[0.1, 0.2], [0.3, 0.0], [0.6, 0.5]]
    assert f.asked[0] not in FREE_POINTS  # added, not asked
    assert_free_points_cost_nothing(f, 5)


def test_optuna_nsga2_first_generation_holds_the_free_points(studies):
    f = warm_budget(6)
    run_optuna(f, "nsga2", 3, 2, 4, seed=0, categorical={0: CATEGORIES})
    assert not [x for x in f.asked if x in FREE_POINTS]  # added, never asked
    sampler = studies[0].sampler
    first_generation = sampler.get_population(studies[0], 0)
    assert len(first_generation) == 4
    assert [[t.params[f"x{i}"] for i in range(3)] for t in first_generation[:3]] == FREE_POINTS
    # The second generation is bred from parents chosen among the first, free points included.
    parents = sampler.get_parent_population(studies[0], 1)
    assert len(parents) == 4 and {t.number for t in parents} == {t.number for t in first_generation}
    assert_free_points_cost_nothing(f, 6)


def test_pymoo_first_population_is_the_free_points_then_random_and_ranked():
    from pymoo.core.problem import Problem

    from peers.pymoo_nsga2 import first_population

    f = warm_budget(7)
    run_pymoo_nsga2(f, 3, 2, 4, seed=0)
    # The first population is asked whole: the 3 free points (free), then 1 random one.
    assert f.asked[:3] == FREE_POINTS and f.asked[3] not in FREE_POINTS
    assert_free_points_cost_nothing(f, 7)
    problem = Problem(n_var=3, n_obj=2, xl=np.zeros(3), xu=np.ones(3))
    assert first_population(warm_budget(3, free=None), problem, 4, 0) is None
    assert first_population(f, problem, 2, 0).tolist() == FREE_POINTS  # never fewer than the free points


def test_pymoo_survival_ranks_the_free_points(monkeypatch):
    import pymoo.algorithms.moo.nsga2 as nsga2

    algorithms = []

    class Recording(nsga2.NSGA2):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            algorithms.append(self)

    monkeypatch.setattr(nsga2, "NSGA2", Recording)
    # A free point that dominates every other point survives into the population offspring are bred from.
    dominant = FreeTrials(("a",), ((0.75, 0.99, 0.5),), ((2.0, 2.0),))
    f = warm_budget(8, free=dominant)
    run_pymoo_nsga2(f, 3, 2, 4, seed=0)
    assert f.asked[0] == [0.75, 0.99, 0.5] and [0.75, 0.99, 0.5] not in f.trace.X
    survivors = algorithms[0].pop
    best = survivors[np.argmin(survivors.get("rank"))]
    assert best.get("X").tolist() == [0.75, 0.99, 0.5] and best.get("F").tolist() == [-2.0, -2.0]


def test_cmaes_first_ask_is_centred_on_the_best_free_point(monkeypatch):
    import cma

    starts = []

    class Recording(cma.CMAEvolutionStrategy):
        def __init__(self, x0, sigma0, options=None):
            starts.append(list(x0))
            super().__init__(x0, sigma0, options)

    monkeypatch.setattr(cma, "CMAEvolutionStrategy", Recording)
    f = warm_budget(6)
    run_cmaes(f, 3, seed=0)
    # Mean scores 0.15, 0.15 (failed score as 0) and 0.55: the third point.
    assert starts[0] == FREE_POINTS[2]
    assert_free_points_cost_nothing(f, 6)
    cold = warm_budget(6, free=None)
    run_cmaes(cold, 3, seed=0)
    assert starts[-1] == [0.5, 0.5, 0.5]


def test_mmmo_recipe_first_gp_holds_the_free_points_and_its_ten_random_ones(monkeypatch):
    import botorch.models

    fits = []

    class Recording(botorch.models.SingleTaskGP):
        def __init__(self, train_X, train_Y, *args, **kwargs):
            fits.append((train_X.clone(), train_Y.clone()))
            super().__init__(train_X, train_Y, *args, **kwargs)

    monkeypatch.setattr(botorch.models, "SingleTaskGP", Recording)
    f = warm_budget(MMMO_PAPER_INITIAL + 1)
    run_mmmo_paper(f, 3, seed=0, num_restarts=2, raw_samples=16, mc_samples=8)
    X, Y = fits[0]
    assert X.shape == (len(FREE_POINTS) + MMMO_PAPER_INITIAL, 3)
    assert X[:3].tolist() == FREE_POINTS and Y[:3, 0].tolist() == [0.1, 0.3, 0.6]
    cold = warm_budget(MMMO_PAPER_INITIAL + 1, free=None)
    run_mmmo_paper(cold, 3, seed=0, num_restarts=2, raw_samples=16, mc_samples=8)
    assert fits[-1][0].shape == (MMMO_PAPER_INITIAL, 3)
    # The ten random initial points stay as published, warm or cold.
    assert cold.trace.X[:MMMO_PAPER_INITIAL] == f.trace.X[:MMMO_PAPER_INITIAL]
    assert_free_points_cost_nothing(f, MMMO_PAPER_INITIAL + 1)


def test_mmmo_recipe_reference_point_is_the_worst_initial_score_free_points_included(monkeypatch):
    import botorch.acquisition.multi_objective.monte_carlo as mc

    refs = []

    class Recording(mc.qExpectedHypervolumeImprovement):
        def __init__(self, model, ref_point, *args, **kwargs):
            refs.append(list(ref_point))
            super().__init__(model, ref_point, *args, **kwargs)

    monkeypatch.setattr(mc, "qExpectedHypervolumeImprovement", Recording)
    f = warm_budget(MMMO_PAPER_INITIAL + 1)
    run_mmmo_paper(f, 3, seed=0, num_restarts=2, raw_samples=16, mc_samples=8)
    initial = np.asarray(f.trace.Y[:MMMO_PAPER_INITIAL])
    # The second task's worst is the free point whose score failed (counted 0), below every random point's.
    assert refs[0] == pytest.approx([min(0.1, initial[:, 0].min()), 0.0])
    assert initial[:, 1].min() > 0.0


OUT_OF_SPACE = FreeTrials(labels=("recipe:linear",), X=(None,), Y=((0.9, 0.9),))


@pytest.mark.parametrize("run", [
    lambda f: run_optuna(f, "tpe", 3, 2, 4, seed=1, categorical={0: CATEGORIES}),
    lambda f: run_optuna(f, "nsga2", 3, 2, 4, seed=1, categorical={0: CATEGORIES}),
    lambda f: run_pymoo_nsga2(f, 3, 2, 4, seed=1),
    lambda f: run_cmaes(f, 3, seed=1),
], ids=["optuna-tpe", "optuna-nsga2", "pymoo-nsga2", "cmaes"])
def test_without_a_free_point_of_the_space_a_peer_runs_as_cold(run):
    # The warm start adds only in-space points; free trials outside the space change nothing.
    cold, outside = warm_budget(7, free=None), warm_budget(7, free=OUT_OF_SPACE)
    run(cold)
    run(outside)
    assert outside.trace.X == cold.trace.X and len(cold.trace.X) == 7


def test_free_trials_outside_the_space_give_empty_points_and_scores_of_the_right_width():
    X, Y = OUT_OF_SPACE.in_space(3)
    assert X.shape == (0, 3) and Y.shape == (0, 2)
    X, Y = FREE.in_space(3)
    assert X.tolist() == FREE_POINTS and Y.shape == (3, 2)
