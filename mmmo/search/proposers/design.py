"""The initial design: what a campaign evaluates before its surrogate takes over.

The first point is the centre of the space: every weight and density halfway
between its bounds, the method in the middle of the choice. On a merge space
the centre is a real merge of every source at moderate weight, where the
Sobol design's first points are arbitrary corners, and it is what Ax's default
strategy evaluates first. The rest are scrambled Sobol points.

The reference trials a campaign scores before its search (the base, each
source alone, the recipe of the space's method: see
:meth:`~mmmo.search.space.SearchSpace.try_encode`) are observations of the
space too. :func:`design_size` counts them toward ``budget.initial``, so a
campaign whose references already cover the corners spends fewer
evaluations on quasi-random points; the centre is always evaluated.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from mmmo.search.proposers.base import check_inputs

__all__ = ["InitialDesign", "design_size"]


def design_size(initial: int, observed_references: int) -> int:
    """Searched trials of the initial design: ``initial`` less the references that are points of the space.

    At least one (the centre) whenever ``initial`` asks for any; ``initial = 0`` stays 0.
    """
    if initial <= 0:
        return 0
    return max(initial - observed_references, 1)


class InitialDesign:
    """The centre of ``[0, 1]^d`` unless a point in the history or pending is already there, then Sobol points.

    Like :class:`~mmmo.search.proposers.sobol.SobolProposer`, it keeps no state:
    the Sobol sequence is fast-forwarded past the points already known, so a
    resumed campaign continues the same design.

    Args:
        seed: Seed of the scrambled Sobol sequence.
        categorical: Column -> unit values of the space's categorical coordinates:
            the centre takes the middle category's value.
    """

    name = "design"

    def __init__(self, seed: int = 0, categorical: dict[int, tuple[float, ...]] | None = None) -> None:
        self.seed = seed
        self.categorical = dict(categorical or {})

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
        centre = self.centre(d)
        known = torch.cat([X, pending])  # k x d
        points = []
        if not bool(((known - centre).abs() <= 1e-9).all(dim=-1).any()):
            points.append(centre.unsqueeze(0))
        engine = SobolEngine(d, scramble=True, seed=self.seed)
        engine.fast_forward(known.shape[0])
        if n > len(points):
            points.append(engine.draw(n - len(points), dtype=torch.float64))
        return torch.cat(points)[:n]  # n x d
