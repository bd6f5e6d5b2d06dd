"""The surrogate shared by the model-based proposers: one GP per objective.

A ``ModelListGP`` of single-output :class:`~botorch.models.SingleTaskGP`
models, each with its own hyperparameters, inputs normalised against the unit
cube and outputs standardised. BoTorch fits the members one by one, so each
stops as soon as it has converged. (A batched multi-output ``SingleTaskGP`` is
the same model; its batched fit was slower on 100 x 24 histories.)

:class:`HyperparameterCache` keeps the last fitted hyperparameters per problem
shape, so the next fit starts from them instead of from the priors' defaults.
It holds no observation (no ``X``, no ``Y``, no transform statistics): the fit
reaches the same optimum either way, only sooner.

Observation noise: given ``Yvar`` (each score's squared standard error, see
:mod:`mmmo.search.noise`), an objective whose every training score has one
gets a GP with that fixed noise (``train_Yvar``); an objective without one
keeps a GP that infers its noise.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from mmmo.search.proposers.base import check_inputs, complete_rows
from mmmo.search.proposers.mixed import Categorical, check_categorical, optimize_mixed, snap
from mmmo.search.proposers.sobol import SobolProposer

__all__ = ["GPProposer", "HyperparameterCache", "fit_gp", "surrogate"]


class HyperparameterCache:
    """Fitted GP hyperparameters keyed by ``(d, objective index)``; nothing else."""

    def __init__(self) -> None:
        self._store: dict[tuple[int, int], dict[str, Tensor]] = {}

    def get(self, key: tuple[int, int]) -> dict[str, Tensor] | None:
        return self._store.get(key)

    def put(self, key: tuple[int, int], state: dict[str, Tensor]) -> None:
        self._store[key] = state

    def keys(self) -> list[tuple[int, int]]:
        return list(self._store)

    def values(self) -> list[dict[str, Tensor]]:
        return list(self._store.values())


def _fit_one(
    X: Tensor,
    y: Tensor,
    warm: dict[str, Tensor] | None,
    optimizer_options: dict[str, Any] | None,
    yvar: Tensor | None = None,
) -> SingleTaskGP:
    d = X.shape[-1]
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(X)
    model = SingleTaskGP(
        X, y, train_Yvar=yvar, input_transform=Normalize(d, bounds=bounds), outcome_transform=Standardize(1)
    )
    if warm is not None:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in warm and warm[name].shape == parameter.shape:
                    parameter.copy_(warm[name])
    kwargs = {"optimizer_kwargs": {"options": dict(optimizer_options)}} if optimizer_options else {}
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **kwargs)
    return model


def fit_gp(
    X: Tensor,
    Y: Tensor,
    cache: HyperparameterCache | None = None,
    optimizer_options: dict[str, Any] | None = None,
    Yvar: Tensor | None = None,
) -> ModelListGP:
    """Fit a GP per objective to ``X`` (``n x d``, unit cube) and ``Y`` (``n x m``), float64.

    Args:
        X: ``n x d`` training inputs in ``[0, 1]^d``.
        Y: ``n x m`` training targets, all finite.
        cache: When given, each fit starts from the hyperparameters it holds
            for ``(d, j)`` (objective ``j``) and stores the new ones there.
        optimizer_options: Options of the L-BFGS-B fit (e.g. ``maxiter``).
        Yvar: ``n x m`` observation variances; objective ``j`` gets a fixed-noise
            GP when its column is all finite, else one that infers its noise.
    """
    d = X.shape[-1]
    models = []
    for j in range(Y.shape[-1]):
        key = (d, j)
        yvar = _noise_column(Yvar, j)
        model = _fit_one(
            X, Y[:, j : j + 1], cache.get(key) if cache is not None else None, optimizer_options, yvar
        )
        if cache is not None:
            cache.put(key, {name: value.detach().clone() for name, value in model.named_parameters()})
        models.append(model)
    return ModelListGP(*models)


def _noise_column(Yvar: Tensor | None, j: int) -> Tensor | None:
    """Objective ``j``'s ``n x 1`` observation variances, or None when any is unknown."""
    if Yvar is None:
        return None
    column = Yvar[:, j : j + 1]
    return column if bool(torch.isfinite(column).all()) else None


def surrogate(
    X: Tensor,
    Y: Tensor,
    Yvar: Tensor | None = None,
    cache: HyperparameterCache | None = None,
    optimizer_options: dict[str, Any] | None = None,
) -> SingleTaskGP | ModelListGP:
    """The fitted GPs of ``fit_gp``, batched into one model where their noise models allow.

    A batch needs one likelihood for all members: every objective with fixed
    noise, or none. Otherwise the members stay a ``ModelListGP``.
    """
    model_list = fit_gp(X, Y, cache, optimizer_options, Yvar)
    if Y.shape[-1] == 1:  # one objective: its GP as it is (a batch of one model has no batch dimension)
        return model_list.models[0]
    fixed = [_noise_column(Yvar, j) is not None for j in range(Y.shape[-1])]
    if all(fixed):
        return batched_model(model_list, X, Y, Yvar)
    if not any(fixed):
        return batched_model(model_list, X, Y)
    return model_list


def batched_model(model_list: ModelListGP, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> SingleTaskGP:
    """The same GPs as one multi-output ``SingleTaskGP`` (a batch of ``m`` independent GPs).

    Each member keeps the hyperparameters it was fitted with; only the
    container changes. The acquisition function then evaluates one batched
    posterior per call instead of ``m`` separate ones and their concatenation,
    which is most of its cost on histories of tens to hundreds of points.
    """
    d = X.shape[-1]
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(X)
    batched = SingleTaskGP(
        X, Y, train_Yvar=Yvar, input_transform=Normalize(d, bounds=bounds), outcome_transform=Standardize(Y.shape[-1])
    )
    with torch.no_grad():
        members = [dict(member.named_parameters()) for member in model_list.models]
        for name, parameter in batched.named_parameters():
            for j, member in enumerate(members):
                parameter[j].copy_(member[name].reshape(parameter[j].shape))
    return batched.eval()


class GPProposer:
    """What the model-based proposers share: settings, input checks, the Sobol
    fallback, seeding, and the GP fit. A subclass implements :meth:`_candidates`.

    Args:
        seed: Seed of the Monte Carlo samples and the optimiser's starting points;
            together with the history it fixes the proposal.
        num_restarts: Starting points of the acquisition optimisation per candidate.
        raw_samples: Quasi-random points scored to pick the starting points.
        mc_samples: Quasi-Monte Carlo samples of the posterior.
        maxiter: L-BFGS-B iterations per candidate.
        ftol: L-BFGS-B stops a candidate once an iteration changes the
            acquisition value by less than this, relative to the value (at
            least 1); None keeps SciPy's default (about 2e-9). The acquisition
            functions here are logarithms, so 1e-4 means the expected
            improvement moved by under 0.01%. 1e-4 took a 100 x 24 proposal
            from 5.2-5.5 s to 4.4 s on one machine, but over six seeds of the
            search benchmark on another it reached a lower hypervolume than
            SciPy's default (0.0359 vs 0.0408, lower on four seeds of six),
            and saved under 10% of the proposal time there, so it is off by
            default.
        warm_start: Start each GP fit from the previous call's hyperparameters.
        warm_fit_maxiter: L-BFGS-B iterations of a warm-started GP fit (None:
            the fit's own default). A warm fit starts next to its optimum,
            since a few new points move the hyperparameters little; an
            uncapped fit can still spend hundreds of iterations polishing
            lengthscales that barely change the acquisition. Cold fits (the
            first call, or ``warm_start=False``) are never capped.
        categorical: Column index -> allowed unit values of the space's
            categorical coordinates (:attr:`~mmmo.search.space.SearchSpace.categorical`);
            they are snapped and enumerated (:mod:`~mmmo.search.proposers.mixed`).
        observation_noise: Fit each objective's GP with the observation
            variances ``propose`` is given (``Yvar``: each score's squared
            standard error) as fixed noise. Off by default: on the search
            benchmark (``docs/benchmarks/search_wins.md``, 6 seeds) a GP that
            infers its noise reached a higher mean hypervolume on all four zoos
            (real zoo, 16 items per task: 0.571 against 0.466, ahead on 5 of 6
            paired seeds; demo zoo, 100 examples: 0.642 against 0.606, 4 of 6;
            tiny and deep zoos: level), as the binomial error of a score near 0
            or 1 over few examples is as large as the differences the search
            must see.
            The multi-fidelity proposer always uses the variances: there they
            weigh a screening score against a full one.

    With fewer than two complete observations there is nothing to model and the
    proposal falls back to the Sobol design.
    """

    name = "gp"

    def __init__(
        self,
        seed: int = 0,
        num_restarts: int = 10,
        raw_samples: int = 256,
        mc_samples: int = 128,
        maxiter: int = 50,
        warm_start: bool = True,
        warm_fit_maxiter: int | None = 50,
        ftol: float | None = None,
        categorical: Categorical | None = None,
        observation_noise: bool = False,
    ) -> None:
        self.seed = seed
        self.observation_noise = observation_noise
        self.categorical = check_categorical(categorical)
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self.maxiter = maxiter
        self.ftol = ftol
        self.warm_fit_maxiter = warm_fit_maxiter
        self.hyperparameters = HyperparameterCache() if warm_start else None

    def propose(
        self,
        X: Tensor,
        Y: Tensor,
        pending: Tensor,
        n: int,
        ref_point: Tensor | None = None,
        Yvar: Tensor | None = None,
    ) -> Tensor:
        """As the protocol says; ``Yvar`` (``N x m``, optional) holds each score's observation variance."""
        check_inputs(X, Y, pending, n)
        keep = torch.isfinite(Y).all(dim=-1)
        X_done, Y_done = complete_rows(X, Y)
        Yvar_done = Yvar[keep].double() if Yvar is not None and self.observation_noise else None
        if X_done.shape[0] < 2:
            return snap(SobolProposer(self.seed).propose(X, Y, pending, n), self.categorical)
        X_done, pending = snap(X_done, self.categorical), snap(pending.double(), self.categorical)
        with torch.random.fork_rng():
            # Reduced to 63 bits: a large campaign seed must not overflow torch's seed and end in Sobol.
            torch.manual_seed((self.seed * 1_000_003 + X.shape[0] + pending.shape[0]) % 2**63)
            model = self._fit_model(X_done, Y_done, Yvar_done)
            candidates = self._candidates(model, X_done, Y_done, pending, n, ref_point)
        return candidates.detach().clamp(0.0, 1.0)  # n x d

    def _fit_model(self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> SingleTaskGP | ModelListGP:
        """The surrogate of ``X`` (``n x d``) and ``Y`` (``n x m``, observation
        variances ``Yvar`` where known): a GP per objective, batched where their
        noise models allow."""
        return surrogate(X, Y, Yvar, self.hyperparameters, self._fit_options())

    def _candidates(
        self, model: SingleTaskGP | ModelListGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None
    ) -> Tensor:
        """``n x d`` candidates from the fitted model and the complete history."""
        raise NotImplementedError

    def _fit_options(self) -> dict[str, Any] | None:
        warm = self.hyperparameters is not None and bool(self.hyperparameters.keys())
        return {"maxiter": self.warm_fit_maxiter} if warm and self.warm_fit_maxiter is not None else None

    def _optimize(self, acquisition: AcquisitionFunction, n: int, d: int, **sequence: Any) -> Tensor:
        """``n x d`` points maximising ``acquisition``, built one at a time (sequential greedy)."""
        if self.categorical:
            return self._optimize_mixed(acquisition, n, d, **sequence)
        candidates, _ = optimize_acqf(
            acquisition,
            bounds=torch.stack([torch.zeros(d), torch.ones(d)]).double(),
            q=n,
            num_restarts=self.num_restarts,
            raw_samples=self.raw_samples,
            sequential=True,
            options=self._optimizer_options(),
            **sequence,
        )
        return candidates

    def _optimize_mixed(self, acquisition: AcquisitionFunction, n: int, d: int, **sequence: Any) -> Tensor:
        """:meth:`_optimize` with the categorical coordinates enumerated.

        A sequence of acquisition functions (one per candidate) is optimised
        one at a time, each with the candidates before it pending.
        """
        acquisitions = sequence.get("acq_function_sequence") or [acquisition]
        if len(acquisitions) == 1:
            return optimize_mixed(acquisition, self.categorical, d, n, self.num_restarts, self.raw_samples,
                                  self._optimizer_options())
        chosen: list[Tensor] = []
        pending = acquisitions[0].X_pending
        for acq in acquisitions:
            extra = torch.cat(chosen) if chosen else None
            if extra is not None:
                acq.set_X_pending(extra if pending is None else torch.cat([pending, extra]))
            chosen.append(optimize_mixed(acq, self.categorical, d, 1, self.num_restarts, self.raw_samples,
                                         self._optimizer_options()))
        return torch.cat(chosen)  # n x d

    def _optimizer_options(self) -> dict[str, Any]:
        # The raw samples that pick the starting points are scored in one
        # batch (BoTorch's default scores them num_restarts at a time).
        options: dict[str, Any] = {
            "batch_limit": self.num_restarts,
            "init_batch_limit": self.raw_samples,
            "maxiter": self.maxiter,
        }
        if self.ftol is not None:
            # BoTorch's batched L-BFGS-B reads ftol only with factr unset.
            options.update(ftol=self.ftol, factr=None)
        return options
