"""Scrambled Sobol points: the initial design of every campaign.

The sequence is fixed by the seed; a call skips as many points as the history
and the pending points hold, so the design continues where it stopped after a
resume, without keeping any state.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from mmmo.search.proposers.base import check_inputs

__all__ = ["SobolProposer"]


class SobolProposer:
    """Points ``N + p`` .. ``N + p + n - 1`` of one scrambled Sobol sequence in ``[0, 1]^d``."""

    name = "sobol"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def propose(
        self, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None = None
    ) -> Tensor:
        check_inputs(X, Y, pending, n)
        return self.draw(X.shape[1], X.shape[0] + pending.shape[0], n)

    def draw(self, d: int, start: int, n: int) -> Tensor:
        """Points ``start`` .. ``start + n - 1`` of the sequence in ``[0, 1]^d`` (``n x d``)."""
        engine = SobolEngine(d, scramble=True, seed=self.seed)
        engine.fast_forward(start)
        return engine.draw(n, dtype=torch.float64)
