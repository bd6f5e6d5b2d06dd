"""qLogNEHVI: batches that most raise the expected hypervolume of the noisy front.

A GP per objective (:func:`~mmmo.search.proposers.gp.fit_gp`) and BoTorch's
``qLogNoisyExpectedHypervolumeImprovement`` with a pruned baseline, cached root
decompositions and the pending points; a batch of ``q`` is built by sequential
greedy optimisation: one ``d``-dimensional problem per point, each earlier
point pending (its box decompositions updated incrementally), instead of one
``q x d`` problem whose every evaluation sums over all ``2^q - 1`` subsets.
The hyperparameters of the previous call start each GP fit
(:class:`~mmmo.search.proposers.gp.HyperparameterCache`).

References:
    S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy. Unexpected
    Improvements to Expected Improvement for Bayesian Optimization. NeurIPS 2023.
    S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian Optimization of
    Multiple Noisy Objectives with Expected Hypervolume Improvement. NeurIPS 2021.
"""

from __future__ import annotations

import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from mmmo.search.pareto import infer_ref_point
from mmmo.search.proposers.base import check_inputs, complete_rows
from mmmo.search.proposers.gp import HyperparameterCache, fit_gp
from mmmo.search.proposers.sobol import SobolProposer

__all__ = ["QLogNEHVIProposer"]


class QLogNEHVIProposer:
    """Propose batches by qLogNEHVI on a GP per objective.

    Args:
        seed: Seed of the Monte Carlo samples and the optimiser's starting points;
            together with the history it fixes the proposal.
        num_restarts: Starting points of the acquisition optimisation per candidate.
        raw_samples: Quasi-random points scored to pick the starting points.
        mc_samples: Quasi-Monte Carlo samples of the posterior.
        maxiter: L-BFGS-B iterations per candidate.
        warm_start: Start each GP fit from the previous call's hyperparameters.

    With fewer than two complete observations there is nothing to model and the
    proposal falls back to the Sobol design.
    """

    name = "qlognehvi"

    def __init__(
        self,
        seed: int = 0,
        num_restarts: int = 10,
        raw_samples: int = 256,
        mc_samples: int = 128,
        maxiter: int = 200,
        warm_start: bool = True,
    ) -> None:
        self.seed = seed
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self.maxiter = maxiter
        self.hyperparameters = HyperparameterCache() if warm_start else None

    def propose(
        self, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None = None
    ) -> Tensor:
        check_inputs(X, Y, pending, n)
        X_done, Y_done = complete_rows(X, Y)
        if X_done.shape[0] < 2:
            return SobolProposer(self.seed).propose(X, Y, pending, n)
        ref = infer_ref_point(Y_done) if ref_point is None else ref_point.to(Y_done)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed * 1_000_003 + X.shape[0] + pending.shape[0])
            model = fit_gp(X_done, Y_done, self.hyperparameters)
            acquisition = qLogNoisyExpectedHypervolumeImprovement(
                model=model,
                ref_point=ref,
                X_baseline=X_done,
                sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=self.seed),
                X_pending=pending.double() if pending.shape[0] else None,
                prune_baseline=True,
                cache_root=True,
            )
            candidates, _ = optimize_acqf(
                acquisition,
                bounds=torch.stack([torch.zeros(X.shape[1]), torch.ones(X.shape[1])]).double(),
                q=n,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                sequential=True,
                options={"batch_limit": self.num_restarts, "maxiter": self.maxiter},
            )
        return candidates.detach().clamp(0.0, 1.0)  # n x d
