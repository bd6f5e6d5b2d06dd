"""qLogNEHVI on MAP-SAAS GPs: a proposer for spaces of tens to hundreds of dimensions.

Per-layer spaces have 50-300 coordinates, of which a few layers and sources
decide most of each objective. The sparse axis-aligned subspace prior (SAAS)
says so: a half-Cauchy global shrinkage on the inverse squared lengthscales,
so a coordinate keeps a short lengthscale only where the data support it.
BoTorch's MAP estimate of that model (``get_fitted_map_saas_model``) is fitted
by L-BFGS like a plain GP, in seconds where the fully Bayesian SAAS model's
NUTS sampling takes minutes. One batched GP holds every objective (each its
own hyperparameters); the acquisition is mmmo's qLogNEHVI, unchanged.

References:
    D. Eriksson, M. Jankowiak. High-Dimensional Bayesian Optimization with
    Sparse Axis-Aligned Subspaces. UAI 2021.
"""

from __future__ import annotations

import torch
from botorch.fit import get_fitted_map_saas_model
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from torch import Tensor

from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer

__all__ = ["SAASProposer"]


class SAASProposer(QLogNEHVIProposer):
    """qLogNEHVI (arguments as :class:`QLogNEHVIProposer`) on a MAP-SAAS GP per objective.

    The fit is cold every call (the SAAS fit starts from its prior's mode,
    which is what keeps unused coordinates shrunk), so ``warm_start`` and
    ``warm_fit_maxiter`` have no effect here.
    """

    name = "saas"

    def _fit_model(self, X: Tensor, Y: Tensor) -> SingleTaskGP:
        d, m = X.shape[-1], Y.shape[-1]
        bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(X)
        model = get_fitted_map_saas_model(
            X, Y, input_transform=Normalize(d, bounds=bounds), outcome_transform=Standardize(m)
        )
        return model.eval()
