"""Coarse to fine: model-level merges first, then per-layer refinement around the front.

A per-layer space holds the model-level merges as a subspace: every group of
a source at the source's value (:attr:`~mmmo.search.space.SearchSpace.coarse_ties`).
On the deep zoo, qLogNEHVI on the 6 model-level numbers reached more of
the front at 80 evaluations than qLogNEHVI on the 60 per-layer numbers
(``docs/benchmarks/layers.md``): a GP over 60 coordinates learns little from
tens of points, and an acquisition optimised over the whole cube spends the
budget far from the merges that work. This proposer searches in two stages:

1. **Coarse.** While the history holds fewer than ``coarse_trials`` complete
   observations, it is qLogNEHVI on the model-level space, exactly: the
   observations on the subspace are read as model-level points ``z``, the
   GPs are fitted over ``z``, and each candidate ``z`` is lifted to
   ``z[ties]``. Observations off the subspace wait for the fine stage.
2. **Fine.** Afterwards, on GPs over the full space fitted to every
   observation, each candidate is the better, by the acquisition, of two:
   the optimum of a trust region (a box of side ``trust_length``) around one
   observed Pareto-optimal point (those of largest hypervolume contribution
   first), as MORBO's local regions around the front; and the best of
   ``recombinations`` uniform crossovers of two front points, polished in
   its own trust region. On the deep zoo, NSGA-II's crossovers of the experts
   found the best merges that do two tasks at once (0.41 and 0.31 of shift2
   and atbash_prev: one expert's weights in some layers, the other's in
   others), which no model-level merge reaches. The method
   choice, a categorical, is kept at the centre's.

Both stages use mmmo's qLogNEHVI (:class:`QLogNEHVIProposer`), building a
batch one candidate at a time, each earlier one pending. Without ``ties`` (a
model-level space) there is nothing coarser: the coarse stage is plain
qLogNEHVI.

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
from mmmo.search.proposers.base import check_inputs
from mmmo.search.proposers.mixed import Categorical
from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer

__all__ = ["CoarseToFineProposer", "front_centres", "on_subspace", "recombinations", "representatives"]


def representatives(ties: Sequence[int]) -> list[int]:
    """The first coordinate tied to each model-level coordinate: ``x[:, representatives(ties)]`` is ``z``."""
    ties = list(ties)
    return [ties.index(j) for j in range(max(ties) + 1)]


def on_subspace(X: Tensor, ties: Sequence[int]) -> Tensor:
    """Which rows of ``X`` (``n x d``) give all coordinates tied to one model-level coordinate one value."""
    z = X[:, representatives(ties)]
    return ((X - z[:, list(ties)]).abs() <= 1e-9).all(dim=-1)


def recombinations(parents: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """``count`` points each taking every coordinate from one of two distinct ``parents`` (``count x d``).

    NSGA-II's uniform crossover: on a per-layer space a child keeps one
    parent's values in some layers and the other's in the rest, a merge no
    small step from either parent reaches. Empty with fewer than two parents.
    """
    k, d = parents.shape
    if k < 2 or count < 1:
        return parents.new_zeros(0, d)
    first = torch.randint(k, (count,), generator=generator)
    second = (first + torch.randint(1, k, (count,), generator=generator)) % k  # never the first
    take_first = torch.rand(count, d, generator=generator, dtype=parents.dtype) < 0.5
    return torch.where(take_first, parents[first], parents[second])


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
        recombinations: Recombinations of two front points scored per fine
            batch (:func:`recombinations`; 0: trust regions alone).
    """

    name = "coarse_to_fine"

    def __init__(
        self,
        seed: int = 0,
        ties: Sequence[int] | None = None,
        coarse_trials: int = 40,
        trust_length: float = 0.4,
        recombinations: int = 256,
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
        self.recombinations = recombinations
        # The coarse stage: qLogNEHVI on the model-level space, its categories at their model-level coordinates.
        coarse_categorical = {self.ties[c]: v for c, v in self.categorical.items()} if self.ties else self.categorical
        self._coarse = QLogNEHVIProposer(seed=seed, categorical=coarse_categorical, **options)

    def stage(self, observations: int) -> str:
        """``coarse`` or ``fine``, for a history of ``observations`` complete points."""
        return "coarse" if observations < self.coarse_trials else "fine"

    def propose(
        self,
        X: Tensor,
        Y: Tensor,
        pending: Tensor,
        n: int,
        ref_point: Tensor | None = None,
        Yvar: Tensor | None = None,
    ) -> Tensor:
        """As the protocol says; the stage follows the number of complete observations."""
        check_inputs(X, Y, pending, n)
        ties = self._ties(X.shape[-1])
        observations = int(torch.isfinite(Y).all(dim=-1).sum())
        if self.stage(observations) == "fine":
            return super().propose(X, Y, pending, n, ref_point, Yvar)
        tied = on_subspace(X, ties)
        first = representatives(ties)
        coarse_pending = pending[on_subspace(pending, ties)][:, first]
        extra = {} if Yvar is None else {"Yvar": Yvar[tied]}
        Z = self._coarse.propose(X[tied][:, first], Y[tied], coarse_pending, n, ref_point, **extra)
        return Z[:, list(ties)]  # n x d

    def _ties(self, d: int) -> tuple[int, ...]:
        ties = self.ties if self.ties is not None else tuple(range(d))
        if len(ties) != d:
            raise ValueError(f"ties has {len(ties)} coordinates, the space {d}")
        return ties

    def _candidates(self, model, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None) -> Tensor:
        """The fine stage's ``n x d`` candidates: for each, the better (by the acquisition) of the
        optimum of a trust region around a front point and the best recombination of two, polished."""
        acquisition = self._acquisition(model, X, Y, pending, ref_point)
        base_pending = acquisition.X_pending
        centres = front_centres(X, Y, infer_ref_point(Y) if ref_point is None else ref_point.to(Y))
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + X.shape[0]) % 2**63)
        children = recombinations(centres, self.recombinations, generator)
        chosen: list[Tensor] = []
        for i in range(n):
            if chosen:
                extra = torch.cat(chosen)
                acquisition.set_X_pending(extra if base_pending is None else torch.cat([base_pending, extra]))
            options = [self._local_candidate(acquisition, centres[i % centres.shape[0]])]
            if children.shape[0]:
                with torch.no_grad():
                    best = children[int(acquisition(children.unsqueeze(1)).argmax())]
                options.append(self._local_candidate(acquisition, best, start=best))
            with torch.no_grad():
                values = acquisition(torch.cat(options).unsqueeze(1))
            chosen.append(options[int(values.argmax())])
        return torch.cat(chosen)  # n x d

    def _local_candidate(self, acquisition: AcquisitionFunction, centre: Tensor, start: Tensor | None = None) -> Tensor:
        """One point of the trust region around ``centre`` (``1 x d``); categories stay the centre's.

        ``start``: ascend from this point alone (else from the best of ``raw_samples`` in the region).
        """
        half = self.trust_length / 2
        bounds = torch.stack([(centre - half).clamp(0.0, 1.0), (centre + half).clamp(0.0, 1.0)]).double()
        fixed = {column: float(centre[column]) for column in self.categorical} or None
        starts = ({"num_restarts": self.num_restarts, "raw_samples": self.raw_samples} if start is None
                  else {"num_restarts": 1, "batch_initial_conditions": start.reshape(1, 1, -1)})
        candidate, _ = optimize_acqf(acquisition, bounds=bounds, q=1, options=self._optimizer_options(),
                                     fixed_features=fixed, **starts)
        return candidate.reshape(1, -1)
