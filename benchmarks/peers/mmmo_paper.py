"""The MM-MO paper's recipe: qEHVI on a GP per objective, in batches of ten.

As published: ten uniform random initial points, then batches of ten chosen
by qEHVI (``qExpectedHypervolumeImprovement`` with a
``FastNondominatedPartitioning`` of the observed front), one ``SingleTaskGP``
per objective, and the hypervolume reference point fixed from the initial data
(per objective, the worst initial score). Acquisition optimisation follows the
BoTorch multi-objective tutorial the recipe builds on (128 QMC samples, 10
restarts, 512 raw samples, sequential greedy batches).

A warm run puts the free in-space points (``f.free``) in the GP's history
from the first fit, next to the ten random points (which stay, as
published); the reference point is the worst initial score over every point
it then has, free ones included.

References:
    Li et al. It's Morphing Time: Unleashing the Potential of Multiple LLMs
    via Multi-objective Optimization. 2024.
    S. Daulton, M. Balandat, E. Bakshy. Differentiable Expected Hypervolume
    Improvement for Parallel Multi-Objective Bayesian Optimization. NeurIPS 2020.
"""

from __future__ import annotations

import numpy as np
import torch

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["MMMO_PAPER_BATCH", "MMMO_PAPER_INITIAL", "run_mmmo_paper"]

MMMO_PAPER_INITIAL = 10
MMMO_PAPER_BATCH = 10


def run_mmmo_paper(f: EvaluationBudget, dim: int, seed: int, num_restarts: int = 10, raw_samples: int = 512,
                   mc_samples: int = 128) -> None:
    """Spend ``f``'s budget with the MM-MO recipe (acquisition settings as published unless given)."""
    from botorch.acquisition.multi_objective.monte_carlo import qExpectedHypervolumeImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
    from gpytorch.mlls import SumMarginalLogLikelihood

    bounds = torch.stack([torch.zeros(dim), torch.ones(dim)]).double()
    generator = torch.Generator().manual_seed(seed)
    free_X, free_Y = f.free.in_space(dim) if f.free is not None else (np.zeros((0, dim)), None)

    def history() -> tuple[torch.Tensor, torch.Tensor]:
        """Every point the recipe has, free ones first: ``n x d`` and ``n x m`` (failed scores as 0)."""
        X = np.concatenate([free_X, np.asarray(f.trace.X).reshape(-1, dim)])
        Y = [*([] if free_Y is None else free_Y.tolist()), *f.trace.Y]
        return (torch.as_tensor(X, dtype=torch.float64),
                torch.as_tensor(finite_or_worst(np.asarray(Y, dtype=float)), dtype=torch.float64))

    try:
        for x in torch.rand(min(MMMO_PAPER_INITIAL, f.remaining), dim, generator=generator, dtype=torch.float64):
            f(x.tolist())
        ref_point = history()[1].min(dim=0).values  # m
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            while f.remaining > 0:
                X, Y = history()  # n x d, n x m
                model = ModelListGP(
                    *[SingleTaskGP(X, Y[:, j : j + 1], outcome_transform=Standardize(1)) for j in range(Y.shape[1])]
                )
                fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
                acquisition = qExpectedHypervolumeImprovement(
                    model=model,
                    ref_point=ref_point.tolist(),
                    partitioning=FastNondominatedPartitioning(ref_point=ref_point, Y=Y),
                    sampler=SobolQMCNormalSampler(torch.Size([mc_samples]), seed=seed),
                )
                candidates, _ = optimize_acqf(
                    acquisition, bounds=bounds, q=min(MMMO_PAPER_BATCH, f.remaining), num_restarts=num_restarts,
                    raw_samples=raw_samples, sequential=True, options={"batch_limit": 5, "maxiter": 200},
                )
                for x in candidates.detach():
                    f(x.tolist())
    except BudgetExhausted:
        pass
