"""Preference vectors over tasks: checking, sampling and grids on the simplex.

A preference ``p`` gives each of the K tasks a non-negative weight; only the
direction matters, so every accepted preference is normalised to sum to one.
Training draws preferences from a Dirichlet distribution; evaluation walks a
regular simplex lattice.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from mmmo.errors import MergeError

PreferenceLike = Mapping[str, float] | Sequence[float] | Tensor


def check_preference(preference: PreferenceLike, task_names: Sequence[str]) -> Tensor:
    """Validate a preference and return it normalised to the simplex.

    Args:
        preference: One weight per task, as a sequence in ``task_names`` order,
            a tensor of shape ``K``, or a mapping task name -> weight (every
            task named once).
        task_names: The K task names, in the order of the learned model.

    Returns:
        A float32 tensor of shape ``K`` with non-negative entries summing to 1.

    Raises:
        MergeError: wrong length, unknown or missing task names, a negative or
            non-finite weight, or weights that sum to zero.
    """
    names = list(task_names)
    if isinstance(preference, Mapping):
        unknown = sorted(set(preference) - set(names))
        missing = [n for n in names if n not in preference]
        if unknown or missing:
            raise MergeError(
                f"preference names {sorted(preference)} do not match the tasks {names}"
                + (f"; unknown: {unknown}" if unknown else "")
                + (f"; missing: {missing}" if missing else "")
            )
        values = [preference[n] for n in names]
    else:
        values = preference.tolist() if isinstance(preference, Tensor) else list(preference)
    if any(isinstance(v, (list, tuple)) for v in values):
        raise MergeError(f"preference must be a flat vector of {len(names)} weights, got {values}")
    if len(values) != len(names):
        raise MergeError(
            f"preference has {len(values)} weights, but there are {len(names)} tasks {names}"
        )
    floats = []
    for name, value in zip(names, values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise MergeError(f"preference weight of task {name!r} is not a number: {value!r}") from None
        if not math.isfinite(number):
            raise MergeError(f"preference weight of task {name!r} is not finite: {number}")
        if number < 0:
            raise MergeError(f"preference weight of task {name!r} is negative: {number}")
        floats.append(number)
    total = sum(floats)
    if total <= 0:
        raise MergeError(f"preference weights sum to zero: {dict(zip(names, floats))}")
    return torch.tensor([v / total for v in floats], dtype=torch.float32)


def sample_preferences(k: int, n: int, alpha: float, generator: np.random.Generator) -> Tensor:
    """Draw ``n`` preferences from a symmetric Dirichlet(``alpha``) over K tasks.

    ``alpha = 1`` is uniform on the simplex; smaller values favour corners
    (one task dominating), larger values the centre.

    Returns:
        A float32 tensor of shape ``n x K``.
    """
    draws = generator.dirichlet(np.full(k, float(alpha)), size=n)
    return torch.as_tensor(draws, dtype=torch.float32)


def simplex_grid(k: int, steps: int) -> Tensor:
    """All preferences whose weights are multiples of ``1 / steps``.

    The lattice has ``C(steps + k - 1, k - 1)`` points (21 for k=3, steps=5),
    corners included, in lexicographic order of the first task's weight
    descending.

    Returns:
        A float32 tensor of shape ``n x K``.
    """
    if k < 1:
        raise MergeError(f"a preference grid needs at least one task, got k={k}")
    if steps < 1:
        raise MergeError(f"grid steps must be >= 1, got {steps}")
    points = [
        c for c in itertools.product(range(steps, -1, -1), repeat=k) if sum(c) == steps
    ]
    return torch.tensor(points, dtype=torch.float32) / steps
