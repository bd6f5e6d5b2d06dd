"""The initial design: what a campaign evaluates before its surrogate takes over.

The first point is the centre of the space: every weight and density halfway
between its bounds, the method in the middle of the choice. On a merge space
the centre is a real merge of every source at moderate weight, where the
Sobol design's first points are arbitrary corners, and it is what Ax's default
strategy evaluates first.

Then the merges a practitioner tries first (:func:`subset_merges`): every
source together, then each pair of sources, at weight 1 and density 1 with the
others at weight 0. With the base and each source alone (the references) they
form the simplex-lattice design of mixture experiments over which task
vectors are added: the corners, the edges and the whole. A front over the
sources' tasks is made of such trade-offs, and the corners alone say nothing
about how two task vectors interfere. The rest are scrambled Sobol points.
On a space finer than the model level they are drawn on its model-level
subspace (every group of a source at the source's value,
:attr:`~mmmo.search.space.SearchSpace.coarse_ties`): a quasi-random point of
60 per-layer numbers is a merge no one would try, whose layers pull against
each other; the per-layer variation is the surrogate's to add. (What this
is worth is not measured: in the per-layer benchmark the references and
anchors fill the initial design, and no Sobol point is drawn.)

The reference trials a campaign scores before its search (the base, each
source alone, the recipe of the space's method: see
:meth:`~mmmo.search.space.SearchSpace.try_encode`) are observations of the
space too. :func:`design_size` counts them toward ``budget.initial``, so a
campaign whose references already cover the corners spends fewer
evaluations on quasi-random points; the centre and the subset merges are
always evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from mmmo.search.proposers.base import check_inputs

if TYPE_CHECKING:
    from mmmo.search.space import SearchSpace

__all__ = ["InitialDesign", "design_size", "subset_merges"]

#: Most pairs :func:`subset_merges` adds: all pairs up to 5 sources; beyond, the
#: pairs of neighbouring sources in the config's order (a chain, not all of them).
MAX_PAIRS = 10


def subset_merges(space: SearchSpace) -> Tensor:
    """Unit points (``k x d``) of every source at weight 1, then of each pair, at density 1, the rest at weight 0.

    Merged by the space's first method (in every group of a finer granularity);
    a point outside the space's bounds (weight 1 or density 1 not allowed, a
    method option that scales the sum) is left out. Empty for fewer than two sources.
    """
    from mmmo.plan import MergePlan

    names = list(space.source_names)
    k = len(names)
    if k < 2:
        return torch.zeros(0, space.dim, dtype=torch.float64)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    if len(pairs) > MAX_PAIRS:
        pairs = [(i, i + 1) for i in range(k - 1)][:MAX_PAIRS]
    subsets = ([tuple(range(k))] if k > 2 else []) + pairs
    points = []
    for subset in subsets:
        weights = [1.0 if i in subset else 0.0 for i in range(k)]
        plan = MergePlan.uniform(space.methods[0], names, weights, 1.0, options=dict(space.space.options))
        x = space.try_encode(plan)
        if x is not None:
            points.append(x)
    return torch.stack(points) if points else torch.zeros(0, space.dim, dtype=torch.float64)


def design_size(initial: int, observed_references: int, planned: int = 1) -> int:
    """Searched trials of the initial design: ``initial`` less the references that are points of the space.

    At least the ``planned`` points (the centre and the anchors) whenever
    ``initial`` asks for any, at most ``initial``; ``initial = 0`` stays 0.
    """
    if initial <= 0:
        return 0
    return max(initial - observed_references, min(planned, initial))


class InitialDesign:
    """The centre of ``[0, 1]^d``, then ``anchors``, each unless the history or pending holds it; then Sobol points.

    Like :class:`~mmmo.search.proposers.sobol.SobolProposer`, it keeps no state:
    the Sobol sequence is fast-forwarded past the points already known, so a
    resumed campaign continues the same design.

    Args:
        seed: Seed of the scrambled Sobol sequence.
        categorical: Column -> unit values of the space's categorical coordinates:
            the centre takes the middle category's value.
        anchors: ``k x d`` points evaluated after the centre, in order (a
            campaign gives :func:`subset_merges` of its space).
        ties: Each coordinate's model-level coordinate; the Sobol points are
            drawn in the model-level space and lifted (``None``: in the whole space).
    """

    name = "design"

    def __init__(
        self,
        seed: int = 0,
        categorical: dict[int, tuple[float, ...]] | None = None,
        anchors: Tensor | None = None,
        ties: Sequence[int] | None = None,
    ) -> None:
        self.seed = seed
        self.categorical = dict(categorical or {})
        self.anchors = None if anchors is None else torch.as_tensor(anchors, dtype=torch.float64)
        self.ties = None if ties is None else tuple(int(t) for t in ties)

    def centre(self, d: int) -> Tensor:
        """The centre point (``d``), with each categorical coordinate at its middle category."""
        x = torch.full((d,), 0.5, dtype=torch.float64)
        for column, values in self.categorical.items():
            x[column] = float(values[(len(values) - 1) // 2])
        return x

    def propose(
        self, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None = None
    ) -> Tensor:
        check_inputs(X, Y, pending, n)
        d = X.shape[1]
        known = torch.cat([X.double(), pending.double()])  # k x d
        planned = [self.centre(d).unsqueeze(0)]
        if self.anchors is not None:
            planned.append(self.anchors.reshape(-1, d))
        points = [x for x in torch.cat(planned) if not bool(((known - x).abs() <= 1e-9).all(dim=-1).any())]
        points = points[:n]
        if n > len(points):
            ties = self.ties if self.ties is not None and len(self.ties) == d else tuple(range(d))
            engine = SobolEngine(max(ties) + 1, scramble=True, seed=self.seed)
            engine.fast_forward(known.shape[0])
            points.extend(engine.draw(n - len(points), dtype=torch.float64)[:, list(ties)])
        return torch.stack(points)  # n x d
