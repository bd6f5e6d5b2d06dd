"""Uniform random points, a baseline for the model-based proposers."""

from __future__ import annotations

import torch
from torch import Tensor

from mmmo.search.proposers.base import check_inputs

__all__ = ["RandomProposer"]


class RandomProposer:
    """``n`` uniform points in ``[0, 1]^d``, drawn from a generator seeded by (seed, history size)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def propose(
        self, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None = None
    ) -> Tensor:
        check_inputs(X, Y, pending, n)
        # Seeding by history size makes a resumed campaign draw what it would have drawn.
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + X.shape[0] + pending.shape[0]) % 2**63)
        return torch.rand(n, X.shape[1], generator=generator, dtype=torch.float64)  # n x d
