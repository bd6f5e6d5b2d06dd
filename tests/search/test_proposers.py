import pytest
import torch
from botorch.test_utils.mock import mock_optimize_context_manager

import mmmo.search.proposers.gp as gp_module
import mmmo.search.proposers.qlognehvi as qlognehvi_module
from mmmo.errors import ConfigError
from mmmo.search.proposers import make_proposer
from mmmo.search.proposers.gp import HyperparameterCache, fit_gp


def problem(n=10, d=3, m=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=torch.float64)
    # Two conflicting smooth objectives.
    Y = torch.stack([-(X - 0.2).pow(2).sum(-1), -(X - 0.8).pow(2).sum(-1)], dim=-1)[:, :m]
    return X, Y


EMPTY = torch.zeros(0, 3, dtype=torch.float64)


def test_sobol_continues_its_sequence_across_calls():
    X, Y = problem(n=0)
    sobol = make_proposer("sobol", seed=5)
    full = sobol.propose(X, Y, EMPTY, 6)
    first = sobol.propose(X, Y, EMPTY, 2)
    # Two evaluated points and two pending: the next call starts at point 4.
    X2, Y2 = problem(n=2)
    rest = make_proposer("sobol", seed=5).propose(X2, Y2, full[2:4], 2)
    assert torch.equal(first, full[:2]) and torch.equal(rest, full[4:6])
    assert not torch.equal(full, make_proposer("sobol", seed=6).propose(X, Y, EMPTY, 6))


def test_random_is_determined_by_seed_and_history():
    X, Y = problem()
    a = make_proposer("random", seed=1).propose(X, Y, EMPTY, 4)
    assert torch.equal(a, make_proposer("random", seed=1).propose(X, Y, EMPTY, 4))
    assert not torch.equal(a, make_proposer("random", seed=1).propose(X[:-1], Y[:-1], EMPTY, 4))
    assert a.shape == (4, 3) and a.min() >= 0 and a.max() <= 1


def test_make_proposer_refuses_unknown_name():
    with pytest.raises(ConfigError, match="unknown proposer 'nsga2'"):
        make_proposer("nsga2")


def test_shapes_are_checked():
    X, Y = problem()
    with pytest.raises(ValueError, match="X has 10 rows but Y has 9"):
        make_proposer("sobol").propose(X, Y[:-1], EMPTY, 1)
    with pytest.raises(ValueError, match="n must be >= 1"):
        make_proposer("sobol").propose(X, Y, EMPTY, 0)


@pytest.mark.parametrize("name", ["qlognehvi", "qlognparego"])
def test_model_based_proposers_return_distinct_points_in_the_cube(name):
    X, Y = problem()
    # Not capped: with two optimiser iterations several starts can stop at the same corner.
    candidates = make_proposer(name, seed=0, num_restarts=2, raw_samples=32).propose(X, Y, EMPTY, 3)
    assert candidates.shape == (3, 3) and candidates.dtype == torch.float64
    assert candidates.min() >= 0 and candidates.max() <= 1
    assert torch.cdist(candidates, candidates).add(torch.eye(3)).min() > 1e-6


@pytest.mark.parametrize("name", ["qlognehvi", "qlognparego"])
def test_same_history_and_seed_give_the_same_batch(name):
    X, Y = problem()
    with mock_optimize_context_manager():
        a = make_proposer(name, seed=3, warm_start=False).propose(X, Y, EMPTY, 2)
        b = make_proposer(name, seed=3, warm_start=False).propose(X, Y, EMPTY, 2)
    assert torch.allclose(a, b)


def test_failed_rows_are_left_out_of_the_model_and_pending_points_passed(monkeypatch):
    X, Y = problem(n=12)
    Y[[2, 7]] = float("nan")
    pending = torch.full((1, 3), 0.5, dtype=torch.float64)
    seen = {}

    def recording_fit(X_fit, Y_fit, cache=None, optimizer_options=None, Yvar=None):
        seen["X"], seen["Y"] = X_fit, Y_fit
        return fit_gp(X_fit, Y_fit, cache, optimizer_options, Yvar)

    original = qlognehvi_module.NativeQLogNEHVI

    def recording_acquisition(**kwargs):
        seen["X_pending"], seen["ref_point"] = kwargs["X_pending"], kwargs["ref_point"]
        seen["X_baseline"] = kwargs["X_baseline"]
        return original(**kwargs)

    monkeypatch.setattr(gp_module, "fit_gp", recording_fit)
    monkeypatch.setattr(qlognehvi_module, "NativeQLogNEHVI", recording_acquisition)
    ref_point = torch.tensor([-2.0, -2.0], dtype=torch.float64)
    with mock_optimize_context_manager():
        make_proposer("qlognehvi").propose(X, Y, pending, 2, ref_point)
    keep = [i for i in range(12) if i not in (2, 7)]
    assert torch.equal(seen["X"], X[keep]) and torch.equal(seen["Y"], Y[keep])
    assert torch.equal(seen["X_pending"], pending)
    assert torch.equal(seen["ref_point"], ref_point)
    # The baseline is drawn from the complete rows only.
    assert all(any(torch.equal(row, x) for x in X[keep]) for row in seen["X_baseline"])


def _baseline_of(monkeypatch, proposer, X, Y):
    """The ``X_baseline`` the proposer hands to its acquisition function."""
    seen = {}
    original = qlognehvi_module.NativeQLogNEHVI

    def recording_acquisition(**kwargs):
        seen["X_baseline"] = kwargs["X_baseline"]
        return original(**kwargs)

    monkeypatch.setattr(qlognehvi_module, "NativeQLogNEHVI", recording_acquisition)
    with mock_optimize_context_manager():
        proposer.propose(X, Y, EMPTY, 1)
    return seen["X_baseline"]


def test_the_baseline_is_capped_at_the_points_most_often_on_the_front(monkeypatch):
    # 40 points of two conflicting objectives: far more than 5 are on the front
    # with a nonzero probability, so the cap decides.
    X, Y = problem(n=40, seed=4)
    uncapped = _baseline_of(monkeypatch, make_proposer("qlognehvi", max_baseline=None), X, Y)
    capped = _baseline_of(monkeypatch, make_proposer("qlognehvi", max_baseline=5), X, Y)
    assert uncapped.shape[0] > 5 and capped.shape[0] == 5
    assert all(any(torch.equal(row, x) for x in uncapped) for row in capped)
    # The observed front is what a well-fitted GP is surest of: every kept point is on it.
    from botorch.utils.multi_objective.pareto import is_non_dominated

    front = X[is_non_dominated(Y)]
    assert all(any(torch.equal(row, x) for x in front) for row in capped)


def test_max_baseline_must_be_positive():
    with pytest.raises(ValueError, match="max_baseline"):
        make_proposer("qlognehvi", max_baseline=0)


def test_falls_back_to_sobol_without_two_complete_rows():
    X, Y = problem(n=3)
    Y[1:] = float("nan")
    candidates = make_proposer("qlognehvi", seed=4).propose(X, Y, EMPTY, 2)
    assert torch.equal(candidates, make_proposer("sobol", seed=4).propose(X, Y, EMPTY, 2))


def test_warm_start_cache_holds_no_history_and_does_not_change_the_fit():
    cache = HyperparameterCache()
    X, Y = problem(n=16, seed=1)
    fit_gp(X[:10], Y[:10], cache)
    shapes = {k: tuple(v.shape) for k, v in cache.values()[0].items()}
    warm = fit_gp(X, Y, cache)
    cold = fit_gp(X, Y)
    # Hyperparameters only: nothing whose size grows with the number of observations.
    assert cache.keys() == [(3, 0), (3, 1)]
    assert {k: tuple(v.shape) for k, v in cache.values()[0].items()} == shapes
    assert all(10 not in s and 16 not in s for s in shapes.values())
    test_X = torch.rand(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    warm_mean = warm.posterior(test_X).mean
    cold_mean = cold.posterior(test_X).mean
    assert torch.allclose(warm_mean, cold_mean, atol=2e-2 * Y.std(dim=0).max())


@pytest.mark.parametrize("name", ["qlognehvi", "qlognparego"])
def test_a_batch_of_one_is_proposed(name):
    X, Y = problem()
    with mock_optimize_context_manager():
        candidate = make_proposer(name, seed=0, num_restarts=2, raw_samples=16).propose(X, Y, EMPTY, 1)
    assert candidate.shape == (1, 3)


@pytest.mark.parametrize("name", ["qlognehvi", "qlognparego"])
def test_one_objective_is_modelled_too(name):
    X, Y = problem(m=1)
    with mock_optimize_context_manager():
        candidates = make_proposer(name, seed=0, num_restarts=2, raw_samples=16).propose(X, Y, EMPTY, 2)
    assert candidates.shape == (2, 3) and candidates.min() >= 0 and candidates.max() <= 1
    model = gp_module.surrogate(X, Y)
    test_X = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert model.posterior(test_X).mean.shape == (5, 1)


def test_batched_model_has_the_posterior_of_the_model_list():
    X, Y = problem(n=14, d=3, m=2, seed=2)
    model_list = fit_gp(X, Y)
    batched = gp_module.batched_model(model_list, X, Y)
    test_X = torch.rand(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ours, theirs = batched.posterior(test_X), model_list.posterior(test_X)
    torch.testing.assert_close(ours.mean, theirs.mean)
    torch.testing.assert_close(ours.variance, theirs.variance)


def test_only_warm_started_fits_are_capped(monkeypatch):
    X, Y = problem(n=12)
    seen = []

    def recording_fit(X_fit, Y_fit, cache=None, optimizer_options=None, Yvar=None):
        seen.append(optimizer_options)
        return fit_gp(X_fit, Y_fit, cache, optimizer_options, Yvar)

    monkeypatch.setattr(gp_module, "fit_gp", recording_fit)
    proposer = make_proposer("qlognehvi", warm_fit_maxiter=7)
    cold = make_proposer("qlognehvi", warm_start=False, warm_fit_maxiter=7)
    with mock_optimize_context_manager():
        proposer.propose(X[:-1], Y[:-1], EMPTY, 1)
        proposer.propose(X, Y, EMPTY, 1)
        cold.propose(X, Y, EMPTY, 1)
        cold.propose(X, Y, EMPTY, 1)
    assert seen == [None, {"maxiter": 7}, None, None]


def test_ftol_stops_the_acquisition_optimiser_sooner(monkeypatch):
    X, Y = problem(n=12, seed=5)
    original = qlognehvi_module.NativeQLogNEHVI.forward
    calls = []

    def counting_forward(self, X_eval):
        calls.append(1)
        return original(self, X_eval)

    monkeypatch.setattr(qlognehvi_module.NativeQLogNEHVI, "forward", counting_forward)
    evaluations, points = {}, {}
    for ftol in (1e-12, 1e-1):
        calls.clear()
        proposer = make_proposer("qlognehvi", seed=0, num_restarts=2, raw_samples=32, mc_samples=16, ftol=ftol)
        points[ftol] = proposer.propose(X, Y, EMPTY, 1)
        evaluations[ftol] = len(calls)
    assert evaluations[1e-1] < evaluations[1e-12], evaluations
    assert points[1e-1].shape == points[1e-12].shape == (1, 3)
