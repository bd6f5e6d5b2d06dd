"""Magnitude order statistics of a task vector, found without sorting it per trial.

Trimming by magnitude (TIES, Model Breadcrumbs) keeps the entries whose
``|delta|`` ranks among the top ``k = int(density * n)``. Sorting ``|delta|``
for every trial would dominate the merge, and keeping a sorted copy would
double the pool's memory. Instead, :class:`MagnitudeIndex` keeps, once per
(source, tensor), ``B + 1`` exact order statistics of ``|delta|`` at evenly
spaced ranks, and how many entries lie strictly below each. The value at any
rank ``r`` then lies between two neighbouring stored values, and one pass over
the tensor finds it exactly: gather and sort only the ``~n / B`` entries inside
that bracket (ties with stored values included, so repeated magnitudes, as in
checkpoints converted from bfloat16, are handled exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mmmo.merge.base import Scratch

DEFAULT_BINS = 1024


@dataclass(frozen=True)
class MagnitudeIndex:
    """Order statistics of ``|delta|`` at ranks ``ranks[j]`` (ascending).

    Attributes:
        ranks: ``[B + 1]`` int64 ascending ranks (0-based, first 0, last n - 1).
        values: ``[B + 1]`` ``|delta|`` at those ranks (sorted ascending).
        below: ``[B + 1]`` int64, entries of ``|delta|`` strictly below ``values[j]``.
        numel: ``n``, the number of entries of the tensor.
    """

    ranks: Tensor
    values: Tensor
    below: Tensor
    numel: int

    @classmethod
    def build(cls, delta: Tensor, bins: int = DEFAULT_BINS, work: Tensor | None = None) -> MagnitudeIndex:
        """Sort ``|delta|`` (flat ``[n]``) once and keep ``bins + 1`` order statistics.

        ``work`` (CPU, at least ``n`` elements of ``delta``'s dtype) is used for the
        sorted copy, so building many indexes reuses one buffer.
        """
        n = delta.numel()
        if delta.device.type == "cpu":
            # numpy sorts in place without an index array: one copy of |delta|.
            magnitudes = work[:n] if work is not None else torch.empty_like(delta).reshape(-1)
            torch.abs(delta.detach().reshape(-1), out=magnitudes)
            magnitudes.numpy().sort()
            sorted_abs = magnitudes
        else:
            sorted_abs = delta.detach().reshape(-1).abs().sort().values
        bins = max(1, min(bins, n - 1)) if n > 1 else 1
        ranks = torch.linspace(0, n - 1, bins + 1, dtype=torch.float64).round().long().unique()
        values = sorted_abs[ranks.to(sorted_abs.device)]
        below = torch.searchsorted(sorted_abs, values, right=False)
        return cls(ranks=ranks.cpu(), values=values.cpu(), below=below.cpu(), numel=n)

    def order_statistic(self, delta: Tensor, rank: int, scratch: Scratch, chunk: int) -> float:
        """The ``rank``-th smallest ``|delta|`` (0-based), exactly.

        Args:
            delta: The flat ``[n]`` task vector this index was built from.
            rank: In ``[0, n)``.
        """
        position = int(torch.searchsorted(self.ranks, torch.tensor([rank]), right=True)) - 1
        if int(self.ranks[position]) == rank:
            return float(self.values[position])
        low = float(self.values[position])
        high = float(self.values[min(position + 1, len(self.values) - 1)])
        below = int(self.below[position])
        inside: list[Tensor] = []
        n = delta.numel()
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            magnitude = scratch.get("magnitude", stop - start, delta.dtype)
            in_low = scratch.get("in_low", stop - start, torch.bool)
            in_high = scratch.get("in_high", stop - start, torch.bool)
            torch.abs(delta[start:stop], out=magnitude)
            torch.ge(magnitude, low, out=in_low)
            torch.le(magnitude, high, out=in_high)
            in_low.logical_and_(in_high)
            inside.append(magnitude[in_low])
        candidates = torch.cat(inside).sort().values
        # shape: [m], the entries of the bracket, ascending; rank - below indexes it.
        return float(candidates[rank - below])


def keep_count(density: float, numel: int) -> int:
    """Entries kept at ``density`` (mergekit's convention: at least one)."""
    return max(1, int(density * numel))
