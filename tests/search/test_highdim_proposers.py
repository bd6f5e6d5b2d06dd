"""saas, auto, categorical coordinates and the dimension limits (mmmo.search.proposers)."""

import pytest
import torch
from botorch.test_utils.mock import mock_optimize_context_manager

from mmmo.errors import ConfigError
from mmmo.search.proposers import check_dimension, make_proposer
from mmmo.search.proposers.auto import HIGH_DIMENSION, AutoProposer, choose
from mmmo.search.proposers.mixed import check_categorical, snap
from mmmo.search.proposers.saas import SAASProposer

CHEAP = {"num_restarts": 2, "raw_samples": 16, "mc_samples": 8}


def problem(n=12, d=30, seed=0):
    """Two objectives that read only the first three coordinates of ``d``."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=torch.float64)
    Y = torch.stack([-(X[:, :3] - 0.2).pow(2).sum(-1), -(X[:, :3] - 0.8).pow(2).sum(-1)], dim=-1)
    return X, Y


def test_saas_shrinks_the_coordinates_that_do_not_matter():
    X, Y = problem(n=30)
    model = SAASProposer(seed=0)._fit_model(X, Y)
    lengthscales = model.covar_module.base_kernel.lengthscale.detach().reshape(2, -1)  # m x d (batched)
    used, unused = lengthscales[:, :3].mean(), lengthscales[:, 3:].mean()
    assert used * 5 < unused


def test_saas_proposes_points_in_the_cube():
    X, Y = problem()
    with mock_optimize_context_manager():
        candidates = make_proposer("saas", seed=0, **CHEAP).propose(X, Y, torch.zeros(0, 30).double(), 2)
    assert candidates.shape == (2, 30) and 0 <= candidates.min() and candidates.max() <= 1


def test_auto_picks_by_dimension():
    assert choose(HIGH_DIMENSION) == "qlognehvi" and choose(HIGH_DIMENSION + 1) == "saas"
    # A space finer than the model level (several coordinates tied to one) is searched coarse to fine.
    assert choose(12, tuple(range(6)) * 2) == "coarse_to_fine" and choose(6, tuple(range(6))) == "qlognehvi"
    assert choose(HIGH_DIMENSION + 2, tuple(range(65)) * 2) == "saas"
    auto = AutoProposer(seed=0, **CHEAP)
    with mock_optimize_context_manager():
        low = problem(d=4)
        auto.propose(*low, torch.zeros(0, 4).double(), 1)
        high = problem(d=HIGH_DIMENSION + 6)
        auto.propose(*high, torch.zeros(0, HIGH_DIMENSION + 6).double(), 1)
    assert sorted(auto._chosen) == ["qlognehvi", "saas"]
    assert isinstance(auto._chosen["saas"], SAASProposer)


def test_snap_moves_categorical_columns_to_allowed_values():
    X = torch.tensor([[0.1, 0.4], [0.6, 0.9], [0.49, 0.5]], dtype=torch.float64)
    snapped = snap(X, {0: (0.25, 0.75)})
    assert snapped[:, 0].tolist() == [0.25, 0.75, 0.25]
    assert torch.equal(snapped[:, 1], X[:, 1])
    with pytest.raises(ValueError, match="column 0"):
        check_categorical({0: (0.5,)})


@pytest.mark.parametrize("name", ["qlognehvi", "qlognparego", "saas", "auto"])
def test_model_based_proposers_keep_a_categorical_column_on_its_categories(name):
    X, Y = problem(d=5)
    categories = (1 / 6, 3 / 6, 5 / 6)
    with mock_optimize_context_manager():
        proposer = make_proposer(name, seed=0, categorical={0: categories}, **CHEAP)
        candidates = proposer.propose(X, Y, torch.zeros(0, 5).double(), 3)
    assert candidates.shape == (3, 5)
    assert all(any(abs(v - c) < 1e-12 for c in categories) for v in candidates[:, 0].tolist())


def test_make_proposer_gives_categorical_only_to_proposers_that_take_it():
    sobol = make_proposer("sobol", seed=0, categorical={0: (0.25, 0.75)})
    assert sobol.propose(torch.zeros(0, 3).double(), torch.zeros(0, 2).double(), torch.zeros(0, 3).double(), 2).shape == (2, 3)
    assert make_proposer("qlognehvi", categorical={0: (0.25, 0.75)}).categorical == {0: (0.25, 0.75)}


def test_space_too_large_for_the_proposer_is_refused_naming_field_and_dimensions():
    check_dimension("saas", 300)
    check_dimension("sobol", 10_000)
    with pytest.raises(ConfigError, match=r"proposer: qlognehvi models at most 128 dimensions; the space has 200 "
                                          r"dimensions; use proposer: saas or auto"):
        check_dimension("qlognehvi", 200)
    with pytest.raises(ConfigError, match="auto models at most 320 dimensions.*coarser granularity"):
        check_dimension("auto", 500)


def test_saas_fits_after_the_first_start_from_the_last_hyperparameters(monkeypatch):
    import mmmo.search.proposers.saas as saas_module

    calls = []
    real_fit = saas_module.fit_gpytorch_mll

    def recording_fit(mll, **kwargs):
        calls.append((mll.model.covar_module.base_kernel.raw_tau.detach().clone(), kwargs))
        return real_fit(mll, **kwargs)

    monkeypatch.setattr(saas_module, "fit_gpytorch_mll", recording_fit)
    X, Y = problem(n=20)
    proposer = SAASProposer(seed=0)
    first = proposer._fit_model(X[:-2], Y[:-2])
    proposer._fit_model(X, Y)
    (cold_tau, cold_kwargs), (warm_tau, warm_kwargs) = calls
    assert cold_kwargs == {} and warm_kwargs == {"optimizer_kwargs": {"options": {"maxiter": 50}}}
    assert torch.equal(warm_tau, first.covar_module.base_kernel.raw_tau.detach())
    assert not torch.equal(warm_tau, cold_tau)
    assert SAASProposer(seed=0, warm_start=False).hyperparameters is None
