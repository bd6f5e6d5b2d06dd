"""Categorical coordinates in the model-based proposers: snapped, then enumerated.

A space's categorical coordinate (the merge method, :attr:`SearchSpace.categorical`)
takes one of a few unit values. Observed and pending points are snapped to
the nearest allowed value before the GP sees them (the initial Sobol design
draws anywhere on the axis), and the acquisition function is optimised over
the continuous coordinates once per combination of categories, with BoTorch's
``optimize_acqf_mixed``, so every candidate is a category, never a point
between two.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim import optimize_acqf_mixed
from torch import Tensor

__all__ = ["Categorical", "check_categorical", "optimize_mixed", "snap"]

#: Column index -> its allowed unit values.
Categorical = Mapping[int, Sequence[float]]

#: Most combinations of categories enumerated; beyond it the mixed
#: optimisation would run one continuous problem for each of too many.
MAX_COMBINATIONS = 64


def check_categorical(categorical: Categorical | None) -> dict[int, tuple[float, ...]]:
    """A validated copy: non-negative columns, at least two values each in ``[0, 1]``."""
    checked: dict[int, tuple[float, ...]] = {}
    for column, values in (categorical or {}).items():
        values = tuple(float(v) for v in values)
        if int(column) < 0 or len(values) < 2 or not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"categorical column {column}: needs >= 2 values in [0, 1], got {list(values)}")
        checked[int(column)] = values
    combinations = 1
    for values in checked.values():
        combinations *= len(values)
    if combinations > MAX_COMBINATIONS:
        raise ValueError(f"categorical columns make {combinations} combinations; at most {MAX_COMBINATIONS}")
    return checked


def snap(X: Tensor, categorical: Categorical) -> Tensor:
    """``X`` (``n x d``) with each categorical column moved to its nearest allowed value."""
    if not categorical or X.shape[0] == 0:
        return X
    X = X.clone()
    for column, values in categorical.items():
        allowed = torch.tensor(values, dtype=X.dtype)  # k
        nearest = (X[:, column : column + 1] - allowed).abs().argmin(dim=-1)  # n
        X[:, column] = allowed[nearest]
    return X


def optimize_mixed(
    acquisition: AcquisitionFunction,
    categorical: Categorical,
    d: int,
    n: int,
    num_restarts: int,
    raw_samples: int,
    options: dict[str, Any],
) -> Tensor:
    """``n x d`` candidates: the best over every combination of categories (sequential greedy)."""
    columns = sorted(categorical)
    fixed = [dict(zip(columns, combo)) for combo in itertools.product(*(categorical[c] for c in columns))]
    candidates, _ = optimize_acqf_mixed(
        acquisition,
        bounds=torch.stack([torch.zeros(d), torch.ones(d)]).double(),
        q=n,
        num_restarts=num_restarts,
        raw_samples=raw_samples,
        fixed_features_list=fixed,
        options=options,
    )
    return candidates  # n x d
