"""Coarse to fine: model-level merges first, then per-layer refinement around the front.

A per-layer space holds the model-level merges as a subspace: every group of
a source at the source's value (:attr:`~mmmo.search.space.SearchSpace.coarse_ties`).
On the deep zoo, qLogNEHVI on the 6 model-level numbers beat every method
searching the 60 per-layer numbers at 80 evaluations
(``docs/benchmarks/layers.md``): a GP over 60 coordinates learns little from
tens of points, and an acquisition optimised over the whole cube spends the
budget far from the merges that work. This proposer searches in two stages,
on one GP over the full space:

1. **Coarse.** While the history holds fewer than ``coarse_trials`` complete
   observations, the acquisition is maximised over the model-level subspace
   only (a point ``z`` of it is lifted to ``z[ties]``). On tied points the
   full GP is an ARD GP over ``z`` whose lengthscale along ``z_j`` combines
   the lengthscales of every coordinate tied to ``j``, and BoTorch's
   dimension-scaled lengthscale prior (its median grows as ``sqrt(d)``) then
   gives the model-level GP's prior back; the initial design's points, off
   the subspace, still inform it.
2. **Fine.** Afterwards each candidate is sought in a trust region: a box of
   side ``trust_length`` around one observed Pareto-optimal point (those of
   largest hypervolume contribution first), all coordinates free, as MORBO's
   local regions around the front. The method choice, a categorical, is
   kept at the centre's.

The acquisition is mmmo's qLogNEHVI (:class:`QLogNEHVIProposer`), built one
candidate at a time, each earlier one pending. Without ``ties`` (a model-level
space), the coarse stage is the whole space.

References:
    S. Daulton, D. Eriksson, M. Balandat, E. Bakshy. Multi-Objective
    Bayesian Optimization over High-Dimensional Search Spaces (MORBO). UAI 2022.
    D. Eriksson, M. Pearce, J. Gardner, R. Turner, M. Poloczek. Scalable
    Global Optimization via Local Bayesian Optimization (TuRBO). NeurIPS 2019.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim import optimize_acqf
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated
from torch import Tensor

from mmmo.search.pareto import infer_ref_point
from mmmo.search.proposers.mixed import Categorical, optimize_mixed
from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer

__all__ = ["CoarseToFineProposer", "LiftedAcquisition", "front_centres"]


class LiftedAcquisition(AcquisitionFunction):
    """``acquisition`` of the full space, read on a subspace: ``f(z) = acquisition(z[..., ties])``."""

    def __init__(self, acquisition: AcquisitionFunction, ties: Sequence[int]) -> None:
        super().__init__(model=acquisition.model)
        self.acquisition = acquisition
        self.register_buffer("ties", torch.as_tensor(list(ties), dtype=torch.long))

    def forward(self, Z: Tensor) -> Tensor:
        return self.acquisition(Z[..., self.ties])


def front_centres(X: Tensor, Y: Tensor, ref_point: Tensor) -> Tensor:
    """The observed Pareto-optimal points, largest hypervolume contribution first (``k x d``).

    ``Y`` is maximised; a point's contribution is the hypervolume the front
    loses without it. Ties (duplicated points) keep their order in ``X``.
    """
    front = is_non_dominated(Y, deduplicate=True)
    X_front, Y_front = X[front], Y[front]
    if X_front.shape[0] <= 1 or Y.shape[-1] == 1:
        order = torch.argsort(Y_front.sum(dim=-1), descending=True, stable=True)
        return X_front[order]
    metric = Hypervolume(ref_point.to(Y))
    total = metric.compute(Y_front)
    keep = torch.ones(Y_front.shape[0], dtype=torch.bool)
    contributions = []
    for i in range(Y_front.shape[0]):
        keep[i] = False
        contributions.append(total - metric.compute(Y_front[keep]))
        keep[i] = True
    order = torch.argsort(torch.tensor(contributions), descending=True, stable=True)
    return X_front[order]


class CoarseToFineProposer(QLogNEHVIProposer):
    """qLogNEHVI over the model-level subspace first, then in trust regions around the front.

    Arguments as :class:`QLogNEHVIProposer`, and:

    Args:
        ties: Each coordinate's model-level coordinate
            (:attr:`~mmmo.search.space.SearchSpace.coarse_ties`); ``None``:
            the space is its own coarse space.
        coarse_trials: Complete observations (free reference points included)
            below which candidates stay in the model-level subspace.
        trust_length: Side of each trust region, in unit-cube coordinates.
    """

    name = "coarse_to_fine"

    def __init__(
        self,
        seed: int = 0,
        ties: Sequence[int] | None = None,
        coarse_trials: int = 40,
        trust_length: float = 0.4,
        categorical: Categorical | None = None,
        **options,
    ) -> None:
        super().__init__(seed=seed, categorical=categorical, **options)
        if coarse_trials < 0:
            raise ValueError(f"coarse_trials must be >= 0, got {coarse_trials}")
        if not 0.0 < trust_length <= 1.0:
            raise ValueError(f"trust_length must be in (0, 1], got {trust_length}")
        self.ties = None if ties is None else tuple(int(t) for t in ties)
        if self.ties is not None:
            if sorted(set(self.ties)) != list(range(max(self.ties, default=-1) + 1)):
                raise ValueError(f"ties must name every coarse coordinate 0..k-1, got {sorted(set(self.ties))}")
            for column in self.categorical:
                if column >= len(self.ties) or sum(t == self.ties[column] for t in self.ties) != 1:
                    raise ValueError(f"categorical coordinate {column} must have a coarse coordinate of its own")
        self.coarse_trials = coarse_trials
        self.trust_length = trust_length

    def stage(self, observations: int) -> str:
        """``coarse`` or ``fine``, for a history of ``observations`` complete points."""
        return "coarse" if observations < self.coarse_trials else "fine"

    def _candidates(self, model, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None) -> Tensor:
        ties = self.ties if self.ties is not None else tuple(range(X.shape[-1]))
        if len(ties) != X.shape[-1]:
            raise ValueError(f"ties has {len(ties)} coordinates, the space {X.shape[-1]}")
        acquisition = self._acquisition(model, X, Y, pending, ref_point)
        base_pending = acquisition.X_pending
        if self.stage(X.shape[0]) == "coarse":
            pick = lambda i: self._coarse_candidate(acquisition, ties)  # noqa: E731
        else:
            ref = infer_ref_point(Y) if ref_point is None else ref_point.to(Y)
            centres = front_centres(X, Y, ref)
            pick = lambda i: self._local_candidate(acquisition, centres[i % centres.shape[0]])  # noqa: E731
        chosen: list[Tensor] = []
        for i in range(n):
            if chosen:
                extra = torch.cat(chosen)
                acquisition.set_X_pending(extra if base_pending is None else torch.cat([base_pending, extra]))
            chosen.append(pick(i))
        return torch.cat(chosen)  # n x d

    def _coarse_candidate(self, acquisition: AcquisitionFunction, ties: tuple[int, ...]) -> Tensor:
        """One point of the model-level subspace, lifted to the full space (``1 x d``)."""
        k = max(ties) + 1
        lifted = LiftedAcquisition(acquisition, ties)
        categorical = {ties[column]: values for column, values in self.categorical.items()}
        if categorical:
            z = optimize_mixed(lifted, categorical, k, 1, self.num_restarts, self.raw_samples,
                               self._optimizer_options())
        else:
            z, _ = optimize_acqf(
                lifted,
                bounds=torch.stack([torch.zeros(k), torch.ones(k)]).double(),
                q=1,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                options=self._optimizer_options(),
            )
        return z[..., list(ties)].reshape(1, -1)

    def _local_candidate(self, acquisition: AcquisitionFunction, centre: Tensor) -> Tensor:
        """One point of the trust region around ``centre`` (``1 x d``); categories stay the centre's."""
        half = self.trust_length / 2
        bounds = torch.stack([(centre - half).clamp(0.0, 1.0), (centre + half).clamp(0.0, 1.0)]).double()
        candidate, _ = optimize_acqf(
            acquisition,
            bounds=bounds,
            q=1,
            num_restarts=self.num_restarts,
            raw_samples=self.raw_samples,
            options=self._optimizer_options(),
            fixed_features={column: float(centre[column]) for column in self.categorical} or None,
        )
        return candidate.reshape(1, -1)
