"""BoTorch's non-dominated box decomposition with its point loops in C.

qLogNEHVI partitions the non-dominated space once per Monte Carlo sample of the
baseline's objectives, and again each time sequential greedy optimisation adds
a pending point. For three or more objectives BoTorch's
``FastNondominatedPartitioning`` runs the incremental local upper bound
algorithm (Lacour et al. 2017, twice, as in Yang et al. 2019) as a Python loop
of small tensor operations per point and per sample: milliseconds per sample,
and most of a proposal's time once the baseline holds tens of points.
:class:`NativeNondominatedPartitioning` is that class with ``_partition_space``
replaced by ``partition_kernel.c``, which runs the same two passes with the
same comparisons in the same order, so its boxes are BoTorch's boxes (a test
compares them). Without a C compiler it is BoTorch's class unchanged.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
from torch import Tensor

from mmmo.native import NativeLibrary

__all__ = ["NativeNondominatedPartitioning", "kernel", "nondominated_cells"]


def _declare(library: ctypes.CDLL) -> None:
    library.nondominated_cells.restype = ctypes.c_long
    library.nondominated_cells.argtypes = [
        ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long,
    ]  # fmt: skip


kernel = NativeLibrary(Path(__file__).with_name("partition_kernel.c"), "the partitioning kernel", _declare)


def nondominated_cells(neg_pareto_Y: Tensor, neg_ref_point: Tensor) -> Tensor:
    """The ``2 x cells x m`` bounds of the non-dominated cells (the kernel must be available).

    Args:
        neg_pareto_Y: ``P x m``, the negated Pareto points (BoTorch's
            ``_neg_pareto_Y``: each better than the reference point).
        neg_ref_point: ``m``, the negated reference point.
    """
    library = kernel.load()
    if library is None:
        raise RuntimeError("the partitioning kernel is not available")
    points = neg_pareto_Y.detach().to("cpu", torch.float64).contiguous()
    ref = neg_ref_point.detach().to("cpu", torch.float64).contiguous()
    P, m = points.shape
    capacity = 2 * P + 8  # enough for m = 3 fronts of any shape; more objectives may need a retry
    while True:
        lower = torch.empty(capacity, m, dtype=torch.float64)
        upper = torch.empty(capacity, m, dtype=torch.float64)
        count = library.nondominated_cells(
            points.data_ptr(), P, m, ref.data_ptr(), lower.data_ptr(), upper.data_ptr(), capacity
        )
        if count == -1:
            raise MemoryError("the partitioning kernel ran out of memory")
        if count < 0:
            raise ValueError(f"the partitioning kernel takes 1 to 64 objectives, got {m}")
        if count <= capacity:
            return torch.stack([lower[:count], upper[:count]])
        capacity = int(count)


class NativeNondominatedPartitioning(FastNondominatedPartitioning):
    """``FastNondominatedPartitioning`` whose decomposition runs in C (unbatched fronts).

    BoTorch's incremental ``update`` needs the first pass's local upper bounds,
    which the kernel does not return; an update here recomputes the
    decomposition from the whole front instead (qLogNEHVI never updates one:
    it builds a new partitioning per sample).
    """

    def update(self, Y: Tensor) -> None:
        self._update_neg_Y(Y=Y)
        self.reset()

    def _partition_space(self) -> None:
        if len(self.batch_shape) > 0 or not kernel.available():
            super()._partition_space()
            return
        cells = nondominated_cells(self._neg_pareto_Y, self._neg_ref_point)
        self.hypercell_bounds = cells.to(self._neg_pareto_Y)
