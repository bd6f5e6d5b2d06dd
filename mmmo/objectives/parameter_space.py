"""Objectives on the merged weights themselves, needing no data.

They compare the live model's floating-point tensors with the base model's
(``ModelPool.base_state``): the L1 or L2 norm of the delta ``theta - theta_base``
and the fraction of its entries that are nonzero. MM-MO uses the L1 norm of
the delta as its sparsity objective. Work goes in chunks of ``chunk_size``
elements, so no copy of the model is ever allocated; tied tensors (one
storage under two names) are counted once.

References:
    .. [MMMO] Li et al., "It's Morphing Time: Unleashing the Potential of
       Multiple LLMs via Multi-objective Optimization", 2024.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.guard import measure

DEFAULT_CHUNK = 1 << 22


class _DeltaObjective:
    direction: Direction = "minimize"

    def __init__(self, name: str, base_state: Mapping[str, Tensor] | None, chunk_size: int = DEFAULT_CHUNK):
        if base_state is None:
            raise ObjectiveError(f"objective {name!r} compares weights with the base: it needs base_state")
        self.name = name
        self.base_state = {k: v for k, v in base_state.items() if torch.is_floating_point(v)}
        if not self.base_state:
            raise ObjectiveError(f"objective {name!r}: base_state holds no floating-point tensor")
        self.chunk_size = chunk_size

    def evaluate(self, model: Any, tokenizer: Any = None) -> Measurement:
        return measure(lambda: self._score(model))

    def _score(self, model: Any) -> tuple[float, None, int]:
        raise NotImplementedError

    @torch.inference_mode()
    def _delta_chunks(self, model: Any) -> Iterator[Tensor]:
        """Flat float32 chunks of ``theta - theta_base``, tensor by tensor, on the model's device."""
        live = model.state_dict()
        seen: set[tuple[int, int]] = set()
        for name, base in self.base_state.items():
            if name not in live:
                raise ObjectiveError(f"tensor {name!r} of the base state is not in the model")
            tensor = live[name]
            if tensor.shape != base.shape:
                raise ObjectiveError(
                    f"tensor {name!r}: model shape {tuple(tensor.shape)} != base shape {tuple(base.shape)}"
                )
            key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
            if key in seen:
                continue
            seen.add(key)
            flat_live, flat_base = tensor.reshape(-1), base.reshape(-1)
            for start in range(0, flat_live.numel(), self.chunk_size):
                stop = start + self.chunk_size
                piece = flat_base[start:stop].to(device=flat_live.device, dtype=torch.float32)
                yield flat_live[start:stop].float() - piece


class DeltaNorm(_DeltaObjective):
    """``||theta - theta_base||_p`` over all floating-point tensors, ``p`` in {1, 2}.

    Args:
        name: Objective name.
        base_state: Name -> tensor of the base model (``ModelPool.base_state``).
        p: 1 (sum of absolute differences, MM-MO's sparsity objective) or 2.
        chunk_size: Elements compared at a time.
    """

    def __init__(
        self, name: str, base_state: Mapping[str, Tensor] | None, p: int = 1, chunk_size: int = DEFAULT_CHUNK
    ):
        if p not in (1, 2):
            raise ObjectiveError(f"objective {name!r}: p must be 1 or 2, got {p}")
        super().__init__(name, base_state, chunk_size)
        self.p = p

    def _score(self, model: Any) -> tuple[float, None, int]:
        reduce: Callable[[Tensor], Tensor] = (
            (lambda d: d.abs().sum()) if self.p == 1 else (lambda d: d.square().sum())
        )
        total = sum(reduce(d).double().item() for d in self._delta_chunks(model))
        return (total if self.p == 1 else math.sqrt(total)), None, 0


class DeltaDensity(_DeltaObjective):
    """Fraction of entries of ``theta - theta_base`` whose magnitude exceeds ``atol``.

    Args:
        name: Objective name.
        base_state: Name -> tensor of the base model (``ModelPool.base_state``).
        atol: Entries with ``|delta| <= atol`` count as zero (default: exactly zero).
        chunk_size: Elements compared at a time.
    """

    def __init__(
        self,
        name: str,
        base_state: Mapping[str, Tensor] | None,
        atol: float = 0.0,
        chunk_size: int = DEFAULT_CHUNK,
    ):
        super().__init__(name, base_state, chunk_size)
        self.atol = atol

    def _score(self, model: Any) -> tuple[float, None, int]:
        nonzero = total = 0
        for delta in self._delta_chunks(model):
            nonzero += int((delta.abs() > self.atol).sum())
            total += delta.numel()
        return nonzero / total, None, 0
