"""``proposer: auto``: the model-based proposer that fits the space's dimension.

The rule, one threshold (:data:`HIGH_DIMENSION`): up to it, qLogNEHVI on
plain GPs (their lengthscale priors scale with the dimension, BoTorch's
default since 0.12); above it (where ``qlognehvi`` itself is refused),
qLogNEHVI on MAP-SAAS GPs
(:class:`~mmmo.search.proposers.saas.SAASProposer`), whose sparsity prior
keeps the fit honest when most of tens to hundreds of coordinates barely
matter. Chosen by measurement: at d = 60 on the deep zoo the plain GPs
reached a higher hypervolume than SAAS (0.437 ± 0.111 over 4 seeds against
0.334 ± 0.037 over 5, ``docs/benchmarks/layers.md``), so plain GPs are used
as far as they are allowed (128 dimensions); SAAS takes the larger spaces,
where no measurement yet compares the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from mmmo.search.proposers.qlognehvi import QLogNEHVIProposer
from mmmo.search.proposers.saas import SAASProposer

__all__ = ["HIGH_DIMENSION", "AutoProposer", "choose"]

#: Spaces with more coordinates than this are searched with MAP-SAAS GPs.
HIGH_DIMENSION = 128


def choose(d: int) -> str:
    """The name of the proposer ``auto`` uses on a space of ``d`` coordinates."""
    return "saas" if d > HIGH_DIMENSION else "qlognehvi"


class AutoProposer:
    """Delegates each call to :func:`choose`'s proposer (one instance each, kept across calls).

    Arguments go to the proposer chosen (as :class:`QLogNEHVIProposer` takes them).
    """

    name = "auto"

    def __init__(self, seed: int = 0, ties: Sequence[int] | None = None, **options: Any) -> None:
        self.seed = seed
        self.ties = ties  # the space's model-level ties; only proposers that search by them take them
        self.options = options
        self._chosen: dict[str, QLogNEHVIProposer] = {}

    def propose(
        self, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None = None
    ) -> Tensor:
        name = choose(X.shape[-1])
        if name not in self._chosen:
            kind = SAASProposer if name == "saas" else QLogNEHVIProposer
            self._chosen[name] = kind(seed=self.seed, **self.options)
        return self._chosen[name].propose(X, Y, pending, n, ref_point)
