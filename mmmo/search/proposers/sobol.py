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
        engine = SobolEngine(X.shape[1], scramble=True, seed=self.seed)
        engine.fast_forward(X.shape[0] + pending.shape[0])
        return engine.draw(n, dtype=torch.float64)  # n x d
