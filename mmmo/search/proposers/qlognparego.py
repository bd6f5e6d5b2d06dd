"""qLogNParEGO: each candidate maximises a random Chebyshev scalarisation.

The GP per objective is the one qLogNEHVI uses; every point of a batch gets its
own weight vector, drawn uniformly from the simplex, and the batch is built
greedily with the earlier points pending. Cheaper than qLogNEHVI when there
are many objectives, since no box decomposition of the front is needed.

References:
    J. Knowles. ParEGO: A Hybrid Algorithm with On-Line Landscape Approximation
    for Expensive Multiobjective Optimization Problems. IEEE TEVC 2006.
    S. Daulton, M. Balandat, E. Bakshy. Differentiable Expected Hypervolume
    Improvement for Parallel Multi-Objective Bayesian Optimization. NeurIPS 2020.
"""

from __future__ import annotations

import torch
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.models import SingleTaskGP
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.sampling import sample_simplex
from torch import Tensor

from mmmo.search.proposers.gp import GPProposer

__all__ = ["QLogNParEGOProposer"]


class QLogNParEGOProposer(GPProposer):
    """Propose batches by qLogNParEGO (arguments as :class:`GPProposer`).

    The reference point is not used: scalarisations are normalised to the observed range.
    """

    name = "qlognparego"

    def _candidates(
        self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None
    ) -> Tensor:
        weights = sample_simplex(Y.shape[-1], n=n, dtype=torch.float64)  # n x m
        acquisitions = [
            qLogNParEGO(
                model=model,
                X_baseline=X,
                scalarization_weights=w,
                sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=self.seed),
                X_pending=pending if pending.shape[0] else None,
                prune_baseline=True,
            )
            for w in weights
        ]
        # The first acquisition is named too: BoTorch 0.18 checks for one
        # before it switches to the sequence, and refuses a sequence for q=1.
        return self._optimize(acquisitions[0], n, X.shape[1], acq_function_sequence=acquisitions if n > 1 else None)
