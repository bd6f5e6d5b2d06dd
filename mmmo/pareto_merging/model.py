"""The preference-conditioned low-rank correction of Pareto Merging.

For every chosen weight matrix ``W_m`` (out x in) of the starting merge, the
weight at preference ``p`` (shape K, on the simplex) is::

    W(p) = W_m + A @ M(p) @ B,      M(p) = sum_k p_k G[k]

with ``A``: out x r, ``B``: r x in and the core ``G``: K x r x r. This is a
Tucker-style factorisation of a 3-way tensor in which the preference enters
the third mode, as in Pareto Merging: ``A`` and ``B`` are shared by all
preferences, only the small r x r core moves with ``p``. ``G`` starts at zero,
so training starts exactly at the starting merge, while the random ``A`` and
``B`` still let gradients reach ``G`` from the first step.

:class:`PreferenceTaskScaling` optionally adds preference-dependent
coefficients of the sources' task vectors on the same matrices.

Both are plain :class:`torch.nn.Module` objects holding only trainable
factors; the frozen merged weights live with the model
(:class:`mmmo.pareto_merging.merged.ParetoMergedModel`).

References:
    W. Chen, J. Kwok. Pareto Merging: Multi-Objective Optimization for
    Preference-Aware Model Merging. ICML 2025.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from mmmo.errors import ConfigError


def _key(tensor_name: str) -> str:
    # ParameterDict keys may not contain dots.
    return tensor_name.replace(".", "__")


class PreferenceLowRank(nn.Module):
    """Low-rank, preference-conditioned corrections for a set of weight matrices.

    Args:
        shapes: Tensor name -> (out, in) shape of each corrected matrix.
        num_tasks: K, the length of a preference vector.
        rank: r, the inner rank of every correction.
        generator: Seeds the random initialisation of ``A`` and ``B``.
    """

    def __init__(
        self,
        shapes: Mapping[str, tuple[int, int]],
        num_tasks: int,
        rank: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ConfigError(f"correction rank must be >= 1, got {rank}")
        self.tensor_names: tuple[str, ...] = tuple(shapes)
        self.num_tasks = num_tasks
        self.rank = rank
        self.A = nn.ParameterDict()
        self.B = nn.ParameterDict()
        self.G = nn.ParameterDict()
        for name, (rows, cols) in shapes.items():
            key = _key(name)
            # Scaled so that A @ B has entries of order 1 / sqrt(r): the core's
            # learning rate then sets the step size independently of width.
            self.A[key] = nn.Parameter(torch.randn(rows, rank, generator=generator) / math.sqrt(rank))
            self.B[key] = nn.Parameter(torch.randn(rank, cols, generator=generator) / math.sqrt(cols))
            self.G[key] = nn.Parameter(torch.zeros(num_tasks, rank, rank))

    def delta(self, tensor_name: str, preference: Tensor) -> Tensor:
        """The correction of one matrix at one preference.

        Args:
            tensor_name: A name given at construction.
            preference: Shape ``K``.

        Returns:
            Shape ``out x in``.
        """
        key = _key(tensor_name)
        core = torch.einsum("k,kij->ij", preference, self.G[key])  # r x r
        return self.A[key] @ core @ self.B[key]

    def deltas(self, preference: Tensor) -> dict[str, Tensor]:
        """Every correction at one preference (tensor name -> ``out x in``)."""
        return {name: self.delta(name, preference) for name in self.tensor_names}

    def num_parameters(self) -> int:
        """Count of trainable scalars (the "extra parameters" of the method)."""
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def parameter_count(shapes: Mapping[str, tuple[int, int]], num_tasks: int, rank: int) -> int:
        """What :meth:`num_parameters` will be, without allocating anything."""
        return sum(rank * (rows + cols) + num_tasks * rank * rank for rows, cols in shapes.values())


class PreferenceTaskScaling(nn.Module):
    """Preference-dependent coefficients of the sources' task vectors.

    For each corrected matrix, the coefficient of source j's task vector at
    preference ``p`` is ``(S @ p)_j`` with ``S``: J x K, so the weight moves by
    ``sum_j (S @ p)_j * tau_j``. ``S`` starts at zero (the starting merge).
    It costs J x K scalars per matrix and moves the weights along the
    directions the experts themselves define, the directions in which task
    trade-offs are largest; the low-rank term refines within them.

    Args:
        tensor_names: The corrected matrices.
        num_sources: J, the number of task vectors.
        num_tasks: K, the length of a preference vector.
    """

    def __init__(self, tensor_names: tuple[str, ...], num_sources: int, num_tasks: int) -> None:
        super().__init__()
        self.tensor_names = tuple(tensor_names)
        self.S = nn.ParameterDict(
            {_key(name): nn.Parameter(torch.zeros(num_sources, num_tasks)) for name in self.tensor_names}
        )

    def coefficients(self, tensor_name: str, preference: Tensor) -> Tensor:
        """Shape ``J``: the task vectors' coefficients for one matrix at ``preference`` (``K``)."""
        return self.S[_key(tensor_name)] @ preference

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
