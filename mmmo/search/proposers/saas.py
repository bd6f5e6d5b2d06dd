"""qLogNEHVI on MAP-SAAS GPs: a proposer for spaces of tens to hundreds of dimensions.

Per-layer spaces have 50-300 coordinates, of which a few layers and sources
decide most of each objective. The sparse axis-aligned subspace prior (SAAS)
says so: a half-Cauchy global shrinkage on the inverse squared lengthscales,
so a coordinate keeps a short lengthscale only where the data support it.
BoTorch's MAP estimate of that model (``get_map_saas_model``, fitted as
``get_fitted_map_saas_model`` fits it) is fitted by L-BFGS like a plain GP,
in seconds where the fully Bayesian SAAS model's NUTS sampling takes minutes.
One batched GP holds every objective (each its own hyperparameters); the
acquisition is mmmo's qLogNEHVI, unchanged. As for the plain GPs, each fit
after the first starts from the previous call's hyperparameters (the global
shrinkage included) and is capped at ``warm_fit_maxiter`` iterations: the fit
was most of a proposal's time at 96 dimensions and 80 observations.

References:
    D. Eriksson, M. Jankowiak. High-Dimensional Bayesian Optimization with
    Sparse Axis-Aligned Subspaces. UAI 2021.
"""

from __future__ import annotations

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.map_saas import get_map_saas_model
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer

__all__ = ["SAASProposer"]


class SAASProposer(QLogNEHVIProposer):
    """qLogNEHVI (arguments as :class:`QLogNEHVIProposer`) on a MAP-SAAS GP per objective."""

    name = "saas"

    def _fit_model(self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> SingleTaskGP:
        d, m = X.shape[-1], Y.shape[-1]
        bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(X)
        # One batched model has one likelihood: fixed noise only when every score's variance is known.
        known = Yvar if Yvar is not None and bool(torch.isfinite(Yvar).all()) else None
        model = get_map_saas_model(
            X,
            Y,
            train_Yvar=known,
            input_transform=Normalize(d, bounds=bounds).train(),
            outcome_transform=Standardize(m),
        )
        key = (d, -m)  # the batched model of m objectives; the plain GPs' keys are (d, j >= 0)
        warm = self.hyperparameters.get(key) if self.hyperparameters is not None else None
        if warm is not None:
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if name in warm and warm[name].shape == parameter.shape:
                        parameter.copy_(warm[name])
        capped = warm is not None and self.warm_fit_maxiter is not None
        kwargs = {"optimizer_kwargs": {"options": {"maxiter": self.warm_fit_maxiter}}} if capped else {}
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **kwargs)
        if self.hyperparameters is not None:
            self.hyperparameters.put(key, {n: p.detach().clone() for n, p in model.named_parameters()})
        return model.eval()
