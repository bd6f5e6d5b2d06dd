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

Magnitudes are compared in float32 whatever the task vector's dtype (widening
a bfloat16 or float16 value is exact), so a threshold keeps the same entries
in every dtype. The index is built on the CPU even for a task vector on a GPU:
sorting there would take a sorted copy and an index array on the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from mmmo.merge import native
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
        """Sort ``|delta|`` (flat ``[n]``, any float dtype, any device) once and keep ``bins + 1`` order statistics.

        The sorted copy has ``delta``'s own width: a 16-bit ``|delta|`` is sorted
        as its bit patterns (int16), which order non-negative floats as their
        values do. ``work`` (a CPU buffer of at least :func:`sort_bytes` bytes,
        any dtype) holds it, so building many indexes reuses one buffer.
        """
        n = delta.numel()
        flat = delta.detach().reshape(-1)
        flat = flat if flat.device.type == "cpu" else flat.cpu()
        bits = _SORTED_AS.get(flat.dtype)
        size = n * flat.element_size()
        if work is not None and work.device.type == "cpu" and work.numel() * work.element_size() >= size:
            magnitudes = work.view(torch.uint8)[:size].view(flat.dtype)
        else:
            magnitudes = torch.empty(n, dtype=flat.dtype)
        torch.abs(flat, out=magnitudes)
        # numpy sorts in place without an index array: one copy of |delta|, on the CPU.
        (magnitudes.view(bits) if bits is not None else magnitudes).numpy().sort()
        bins = max(1, min(bins, n - 1)) if n > 1 else 1
        ranks = torch.linspace(0, n - 1, bins + 1, dtype=torch.float64).round().long().unique()
        keys = magnitudes.view(bits) if bits is not None else magnitudes
        below = torch.searchsorted(keys, keys[ranks], right=False)
        # Stored widened: float32 holds every 16-bit value exactly.
        values = magnitudes[ranks].to(torch.float64 if flat.dtype == torch.float64 else torch.float32)
        return cls(ranks=ranks, values=values, below=below, numel=n)

    def order_statistic(self, delta: Tensor, rank: int, scratch: Scratch, chunk: int) -> float:
        """The ``rank``-th smallest ``|delta|`` (0-based), exactly.

        Args:
            delta: The flat ``[n]`` task vector this index was built from.
            rank: In ``[0, n)``.
        """
        position = int(torch.searchsorted(self.ranks, torch.tensor([rank]), right=True)) - 1
        if int(self.ranks[position]) == rank:
            return float(self.values[position])
        # ranks[position] < rank < ranks[position + 1] (the last rank is n - 1), so the answer
        # lies in [low, high]: equal to low, strictly between, or equal to high.
        low, high = self.values[position], self.values[position + 1]
        if bool(low == high):
            return float(low)
        # Only the entries strictly between are gathered: at most ranks[j + 1] - ranks[j] - 1 of
        # them. Entries equal to a stored value can be far more (repeated 16-bit magnitudes).
        infinity = torch.tensor(math.inf, dtype=low.dtype)
        open_low = float(torch.nextafter(low, infinity))
        open_high = float(torch.nextafter(high, -infinity))
        n = delta.numel()
        if native.usable(delta) and low.dtype == torch.float32:  # float32 tensors only
            # One read of delta in C.
            capacity = int(self.ranks[position + 1] - self.ranks[position]) + 1
            strictly_inside = native.bracket_magnitudes(delta, open_low, open_high, capacity)
        else:
            step = max(_ROW, chunk - chunk % _ROW)
            pieces = (_widened(delta[start : start + step], low.dtype, scratch) for start in range(0, n, step))
            strictly_inside = torch.cat([_bracket_entries(p, open_low, open_high, scratch) for p in pieces])
        # Entries in [low, high) are below[j + 1] - below[j]; those not strictly inside equal low.
        equal_low = int(self.below[position + 1] - self.below[position]) - strictly_inside.numel()
        offset = rank - int(self.below[position])
        if offset < equal_low:
            return float(low)
        offset -= equal_low
        if offset < strictly_inside.numel():
            # shape: [m], the entries strictly inside, ascending.
            return float(strictly_inside.sort().values[offset])
        return float(high)


def _widened(piece: Tensor, dtype: torch.dtype, scratch: Scratch) -> Tensor:
    """``piece`` in ``dtype`` (the index's): itself, or a widened copy in scratch."""
    if piece.dtype == dtype:
        return piece
    return scratch.get("bracket_widened", piece.numel(), dtype).copy_(piece)


# 16-bit float dtypes, sorted as integers of the same width (numpy has no bfloat16).
_SORTED_AS = {torch.bfloat16: torch.int16, torch.float16: torch.int16}


def sort_bytes(delta: Tensor) -> int:
    """Bytes of the work buffer :meth:`MagnitudeIndex.build` needs for ``delta``."""
    return delta.numel() * delta.element_size()


# Entries per row of the coarse bracket filter: a bracket holds about n / B
# entries, so with B = 1024 about 6% of 64-entry rows hold one.
_ROW = 64


def _bracket_entries(delta: Tensor, low: float, high: float, scratch: Scratch) -> Tensor:
    """The ``|delta|`` (flat ``[m]``) that lie in ``[low, high]``, in no particular order.

    Selecting them directly (compare into bools, then index) costs several
    times an elementwise float op per entry. Instead, float ops find the rows
    of ``_ROW`` entries that may hold one, and only those rows are compared.
    The row filter is slightly wider than the bracket so that rounding never
    hides an entry; the exact test follows on the few rows it keeps.
    """
    m = delta.numel()
    full = m - m % _ROW
    parts = []
    if full:
        # A row may hold an entry of the bracket iff its smallest | |delta| - mid |
        # is at most half the bracket's width; the slack covers rounding.
        mid, half = (low + high) / 2, (high - low) / 2
        slack = mid * 2**-8 + torch.finfo(delta.dtype).tiny
        distance = scratch.get("bracket_distance", full, delta.dtype)
        torch.abs(delta[:full], out=distance)
        distance.sub_(mid).abs_()
        # distance: [full] -> [full / _ROW] row minima.
        rows = (distance.view(-1, _ROW).amin(dim=1) <= half + slack).nonzero().squeeze(1)
        parts.append(delta[:full].view(-1, _ROW)[rows].reshape(-1))
    parts.append(delta[full:])
    candidates = torch.cat(parts).abs()
    return candidates[(candidates >= low) & (candidates <= high)]


def keep_count(density: float, numel: int) -> int:
    """Entries kept at ``density`` (mergekit's convention: at least one)."""
    return max(1, int(density * numel))
