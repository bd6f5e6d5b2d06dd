"""Pareto fronts, hypervolume and the reference point, on maximisation-oriented scores.

Every function here takes ``Y`` with larger-is-better columns; the campaign
negates minimised objectives before calling (see :func:`to_maximization`).
The computations are BoTorch's (``is_non_dominated``, ``Hypervolume``).

The inferred reference point (:func:`infer_ref_point`) is, per objective, the
worst score among the reference trials (base model, source models, standard
recipes) minus 10% of their range: every merge that beats all references on
every objective adds hypervolume, and the references themselves lie just inside
the dominated region, so the front is measured against what the user already had.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated
from torch import Tensor

__all__ = [
    "hypervolume",
    "hypervolume_history",
    "infer_ref_point",
    "pareto_mask",
    "to_maximization",
]

REF_POINT_MARGIN = 0.1


def to_maximization(Y: Tensor, directions: Sequence[str]) -> Tensor:
    """``n x m`` scores in each objective's direction -> larger-is-better (minimised columns negated)."""
    signs = torch.tensor([-1.0 if d == "minimize" else 1.0 for d in directions], dtype=Y.dtype)
    return Y * signs


def pareto_mask(Y: Tensor) -> Tensor:
    """Boolean mask (``n``) of the rows of ``Y`` (``n x m``, maximised) that no other row dominates.

    Duplicated optimal rows are all kept. Rows with a non-finite value are never optimal.
    """
    if Y.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool)
    finite = torch.isfinite(Y).all(dim=-1)
    mask = torch.zeros(Y.shape[0], dtype=torch.bool)
    if finite.any():
        mask[finite] = is_non_dominated(Y[finite], deduplicate=False)
    return mask


def hypervolume(Y: Tensor, ref_point: Tensor) -> float:
    """Hypervolume dominated by the rows of ``Y`` (``n x m``, maximised) above ``ref_point`` (``m``)."""
    Y = Y[torch.isfinite(Y).all(dim=-1)]
    Y = Y[(Y > ref_point).all(dim=-1)]
    if Y.shape[0] == 0:
        return 0.0
    Y = Y[is_non_dominated(Y)]
    return float(Hypervolume(ref_point=ref_point.to(Y)).compute(Y))


def hypervolume_history(Y: Tensor, ref_point: Tensor) -> Tensor:
    """Hypervolume after each of the ``n`` rows of ``Y`` (``n x m``, maximised, in trial order) -> ``n``."""
    history = torch.zeros(Y.shape[0], dtype=torch.float64)
    current = 0.0
    for i in range(Y.shape[0]):
        # Only a row that is itself above the reference point can change the value.
        row = Y[i]
        if torch.isfinite(row).all() and (row > ref_point).all():
            current = hypervolume(Y[: i + 1], ref_point)
        history[i] = current
    return history


def infer_ref_point(Y_reference: Tensor, margin: float = REF_POINT_MARGIN) -> Tensor:
    """Reference point (``m``) from the reference trials' scores ``Y_reference`` (``k x m``, maximised).

    Per objective: the minimum minus ``margin`` times the range; where the range
    is zero, ``margin`` times ``max(|minimum|, 1)``. Non-finite rows are ignored.

    Raises:
        ValueError: When no row is finite.
    """
    Y_reference = Y_reference[torch.isfinite(Y_reference).all(dim=-1)]
    if Y_reference.shape[0] == 0:
        raise ValueError("no complete reference scores to infer a reference point from")
    low = Y_reference.min(dim=0).values
    spread = Y_reference.max(dim=0).values - low
    fallback = torch.clamp(low.abs(), min=1.0)
    spread = torch.where(spread > 0, spread, fallback)
    return low - margin * spread
