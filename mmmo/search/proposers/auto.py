"""``proposer: auto``: the model-based proposer that fits the space.

The rule, by the space's dimension ``d`` and whether it is finer than the
model level (its :attr:`~mmmo.search.space.SearchSpace.coarse_ties` tie
several coordinates to one model-level coordinate):

- ``d`` above :data:`HIGH_DIMENSION` (where ``qlognehvi`` and
  ``coarse_to_fine`` are refused): qLogNEHVI on MAP-SAAS GPs
  (:class:`~mmmo.search.proposers.saas.SAASProposer`), whose sparsity prior
  keeps the fit honest when most of hundreds of coordinates barely matter;
- a finer space up to it: :class:`~mmmo.search.proposers.coarse_to_fine.CoarseToFineProposer`,
  model-level merges first, per-layer refinement around the front after;
- a model-level space: qLogNEHVI on plain GPs (their lengthscale priors scale
  with the dimension, BoTorch's default since 0.12).

Chosen by measurement on the deep zoo (80 evaluations, 5 seeds,
``docs/benchmarks/layers.md``): of the union front's hypervolume,
coarse-to-fine 0.607 ± 0.018 at d = 60 and 0.751 ± 0.051 at d = 108,
qLogNEHVI on plain GPs over every coordinate 0.573 ± 0.004 and
0.733 ± 0.017; MAP-SAAS was below the plain GPs in an earlier, cold run at
d = 60 (0.334 ± 0.037 against 0.437 ± 0.111). No measurement yet compares
SAAS with anything above 128 dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from mmmo.search.proposers.coarse_to_fine import CoarseToFineProposer
from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer
from mmmo.search.proposers.saas import SAASProposer

__all__ = ["HIGH_DIMENSION", "AutoProposer", "choose"]

#: Spaces with more coordinates than this are searched with MAP-SAAS GPs.
HIGH_DIMENSION = 128


def choose(d: int, ties: Sequence[int] | None = None) -> str:
    """The name of the proposer ``auto`` uses on a space of ``d`` coordinates tied by ``ties``."""
    if d > HIGH_DIMENSION:
        return "saas"
    finer = ties is not None and len(ties) == d and len(set(ties)) < d
    return "coarse_to_fine" if finer else "qlognehvi"


class AutoProposer:
    """Delegates each call to :func:`choose`'s proposer (one instance each, kept across calls).

    Arguments go to the proposer chosen (as :class:`QLogNEHVIProposer` takes
    them); ``ties`` (the space's model-level ties) to ``coarse_to_fine``.
    """

    name = "auto"

    def __init__(self, seed: int = 0, ties: Sequence[int] | None = None, **options: Any) -> None:
        self.seed = seed
        self.ties = ties
        self.options = options
        self._chosen: dict[str, QLogNEHVIProposer] = {}

    def propose(
        self,
        X: Tensor,
        Y: Tensor,
        pending: Tensor,
        n: int,
        ref_point: Tensor | None = None,
        Yvar: Tensor | None = None,
    ) -> Tensor:
        """As the chosen proposer's; ``Yvar`` reaches it, so ``observation_noise=True`` holds under ``auto`` too."""
        name = choose(X.shape[-1], self.ties)
        if name not in self._chosen:
            if name == "coarse_to_fine":
                self._chosen[name] = CoarseToFineProposer(seed=self.seed, ties=self.ties, **self.options)
            else:
                kind = SAASProposer if name == "saas" else QLogNEHVIProposer
                self._chosen[name] = kind(seed=self.seed, **self.options)
        return self._chosen[name].propose(X, Y, pending, n, ref_point, Yvar)
