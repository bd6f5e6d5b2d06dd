"""What a proposer is, and the input checks every proposer shares.

A proposer turns the history of a campaign (read from the store at each call,
never kept) into the next points to evaluate:

``propose(X, Y, pending, n, ref_point=None) -> Tensor[n x d]``

- ``X``: ``N x d`` unit-cube points already evaluated (failed ones included).
- ``Y``: ``N x m`` their scores, larger is better in every column; a failed
  trial's row is ``nan`` and model-based proposers leave it out of the model.
- ``pending``: ``p x d`` points proposed but not yet finished.
- ``ref_point``: ``m`` hypervolume reference point (maximisation-oriented).

A proposer whose ``propose`` also takes ``Yvar`` (``N x m`` observation
variances, ``nan`` where unknown) is given each score's squared standard
error (:func:`accepts_noise`); the GP-based proposers use it as observation noise.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["Proposer", "accepts_noise", "check_inputs", "complete_rows"]


@runtime_checkable
class Proposer(Protocol):
    name: str

    def propose(
        self, X: Tensor, Y: Tensor, pending: Tensor, n: int, ref_point: Tensor | None = None
    ) -> Tensor: ...


def check_inputs(X: Tensor, Y: Tensor, pending: Tensor, n: int) -> None:
    """Raise ``ValueError`` on shapes that do not fit together."""
    if X.dim() != 2 or Y.dim() != 2 or pending.dim() != 2:
        raise ValueError(
            f"X, Y and pending must be 2-d, got shapes {tuple(X.shape)}, {tuple(Y.shape)}, {tuple(pending.shape)}"
        )
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    if pending.shape[0] and pending.shape[1] != X.shape[1]:
        raise ValueError(f"pending has {pending.shape[1]} columns, X has {X.shape[1]}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")


def complete_rows(X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
    """The rows of ``X`` (``N x d``) and ``Y`` (``N x m``) whose scores are all finite, as float64."""
    keep = torch.isfinite(Y).all(dim=-1)
    return X[keep].double(), Y[keep].double()


def accepts_noise(proposer: Any) -> bool:
    """Whether ``proposer.propose`` takes the observation variances as ``Yvar``."""
    try:
        return "Yvar" in inspect.signature(proposer.propose).parameters
    except (TypeError, ValueError):  # a callable without an introspectable signature
        return False
