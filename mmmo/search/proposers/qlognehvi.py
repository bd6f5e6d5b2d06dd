"""qLogNEHVI: batches that most raise the expected hypervolume of the noisy front.

A GP per objective (:func:`~mmmo.search.proposers.gp.fit_gp`) and BoTorch's
``qLogNoisyExpectedHypervolumeImprovement`` with a pruned baseline, cached root
decompositions and the pending points; a batch of ``q`` is built by sequential
greedy optimisation: one ``d``-dimensional problem per point, each earlier
point pending (its box decompositions updated incrementally), instead of one
``q x d`` problem whose every evaluation sums over all ``2^q - 1`` subsets.
The hyperparameters of the previous call start each GP fit
(:class:`~mmmo.search.proposers.gp.HyperparameterCache`), and the fitted GPs
are evaluated as one batched multi-output model.

The defaults (128 QMC samples, at most 50 L-BFGS-B iterations per candidate and
per warm GP fit) keep a proposal of 4 points at 100 observations in 24
dimensions to a few seconds on two cores; ``benchmarks/proposal_overhead.py``
measures them against the plain BoTorch recipe, and
``benchmarks/search_efficiency.py`` the hypervolume they reach.

References:
    S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy. Unexpected
    Improvements to Expected Improvement for Bayesian Optimization. NeurIPS 2023.
    S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian Optimization of
    Multiple Noisy Objectives with Expected Hypervolume Improvement. NeurIPS 2021.
"""

from __future__ import annotations

import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.models import SingleTaskGP
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from mmmo.search.pareto import infer_ref_point
from mmmo.search.proposers.gp import GPProposer

__all__ = ["QLogNEHVIProposer"]


class QLogNEHVIProposer(GPProposer):
    """Propose batches by qLogNEHVI on a GP per objective (arguments as :class:`GPProposer`)."""

    name = "qlognehvi"

    def _candidates(
        self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None
    ) -> Tensor:
        acquisition = qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=infer_ref_point(Y) if ref_point is None else ref_point.to(Y),
            X_baseline=X,
            sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=self.seed),
            X_pending=pending if pending.shape[0] else None,
            prune_baseline=True,
            cache_root=True,
        )
        return self._optimize(acquisition, n, X.shape[1])
