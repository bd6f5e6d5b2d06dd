import math

import pytest
import torch
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood

from mmmo.objectives.base import Measurement
from mmmo.search.noise import MIN_VARIANCE, observation_variance
from mmmo.search.proposers.base import accepts_noise
from mmmo.search.proposers.gp import fit_gp, surrogate
from mmmo.search.proposers import make_proposer


def test_variance_is_the_squared_standard_error():
    assert observation_variance(Measurement(0.5, stderr=0.05, n=100)) == pytest.approx(0.0025)


def test_unknown_or_failed_gives_nan():
    assert math.isnan(observation_variance(Measurement(0.5)))
    assert math.isnan(observation_variance(Measurement.failure("boom")))
    assert math.isnan(observation_variance(None))


def test_an_all_wrong_accuracy_is_not_exact_and_shrinks_with_n():
    few = observation_variance(Measurement(0.0, stderr=0.0, n=10))
    many = observation_variance(Measurement(0.0, stderr=0.0, n=100))
    assert few > many > MIN_VARIANCE
    # Agresti-Coull: p = 2 / 14 over n + 4 = 14.
    assert few == pytest.approx((2 / 14) * (12 / 14) / 14)
    assert observation_variance(Measurement(0.3, stderr=0.0, n=5)) == MIN_VARIANCE


def data(n=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    Y = torch.stack([X.sum(-1), -(X - 0.5).pow(2).sum(-1)], dim=-1)
    return X, Y


def test_objectives_with_variances_get_fixed_noise_the_others_infer_it():
    X, Y = data()
    Yvar = torch.full_like(Y, 0.01)
    Yvar[3, 1] = math.nan
    models = fit_gp(X, Y, Yvar=Yvar).models
    assert isinstance(models[0].likelihood, FixedNoiseGaussianLikelihood)
    assert not isinstance(models[1].likelihood, FixedNoiseGaussianLikelihood)
    assert isinstance(models[1].likelihood, GaussianLikelihood)


def test_larger_observation_noise_widens_the_posterior_at_the_data():
    X, Y = data()
    quiet = surrogate(X, Y, torch.full_like(Y, 1e-6))
    noisy = surrogate(X, Y, torch.full_like(Y, 0.5))
    with torch.no_grad():
        v_quiet = quiet.posterior(X).variance.mean()
        v_noisy = noisy.posterior(X).variance.mean()
    assert v_noisy > 10 * v_quiet


def test_gp_proposers_take_noise_and_the_design_does_not():
    assert accepts_noise(make_proposer("qlognehvi"))
    assert accepts_noise(make_proposer("qlognparego"))
    assert not accepts_noise(make_proposer("sobol"))


@pytest.fixture
def fitted_noise(monkeypatch) -> list:
    """The ``Yvar`` of every GP fit from here on, in order (``None``: the GP inferred its noise)."""
    import mmmo.search.proposers.gp as gp_module

    seen = []
    real = gp_module.fit_gp

    def spy(X, Y, cache=None, options=None, Yvar=None):
        seen.append(Yvar)
        return real(X, Y, cache, options, Yvar)

    monkeypatch.setattr(gp_module, "fit_gp", spy)
    return seen


def test_a_proposer_fits_with_the_noise_it_is_given(fitted_noise):
    seen = fitted_noise
    X, Y = data()
    Y[2] = math.nan  # a failed trial: its row leaves X, Y and Yvar alike
    Yvar = torch.full_like(Y, 0.02)
    out = make_proposer("qlognehvi", num_restarts=1, raw_samples=8, maxiter=2, observation_noise=True).propose(
        X, Y, torch.zeros(0, 2, dtype=torch.float64), 1, Yvar=Yvar
    )
    assert out.shape == (1, 2)
    assert seen[0].shape == (11, 2) and torch.all(seen[0] == 0.02)
    # By default the GP infers its noise: the variances it is given are not fitted.
    make_proposer("qlognehvi", num_restarts=1, raw_samples=8, maxiter=2).propose(
        X, Y, torch.zeros(0, 2, dtype=torch.float64), 1, Yvar=Yvar
    )
    assert seen[1] is None


def test_auto_hands_the_noise_to_the_proposer_it_chose(fitted_noise):
    seen = fitted_noise
    X, Y = data()
    Yvar = torch.full_like(Y, 0.02)
    auto = make_proposer("auto", num_restarts=1, raw_samples=8, maxiter=2, observation_noise=True)
    assert accepts_noise(auto)
    auto.propose(X, Y, torch.zeros(0, 2, dtype=torch.float64), 1, Yvar=Yvar)
    assert seen and torch.all(seen[0] == 0.02)
