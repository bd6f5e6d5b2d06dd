"""Task vectors behind one interface: where a pool's base and source weights live.

A merge reads, for one tensor at a time, the base and every plan source's task
vector ``delta_k = theta_k - theta_base``. :class:`TaskVectors` answers that
read whatever the storage:

- ``resident``: the base and each full source are held in process memory in
  the pool's dtype. In float32 the task vectors themselves are held (a merge
  reads them as they are); in a 16-bit dtype the source weights are held and
  the task vector is formed in float32 per tensor, so no precision is lost to
  a 16-bit difference.
- ``mmap``: the base and the full sources stay in their safetensors files,
  mapped into memory (:mod:`mmmo.sources.mapped`); a task vector is formed in
  float32 from the two mapped tensors while its tensor is merged. Nothing
  model-sized sits in process memory except the live model.
- A plain LoRA source is held as its factors in either mode
  (:class:`~mmmo.sources.lora.LoraFactors`); its full-rank update of a tensor
  exists only while that tensor is merged.

How one source holds one tensor is a :class:`Stored`; :func:`full_delta` turns
it into the float32 task vector on whatever device its tensors were moved to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from mmmo.sources.lora import LoraFactors
from mmmo.sources.mapped import MappedCheckpoint

StorageMode = Literal["resident", "mmap"]
COMPUTE_DTYPE = torch.float32


@dataclass(frozen=True)
class Stored:
    """How one source holds one tensor.

    Attributes:
        kind: ``delta`` (the task vector itself), ``weights`` (the source's
            weights; the task vector is their difference with the base),
            ``factors`` (a LoRA update) or ``zero`` (the source leaves the tensor as the base has it).
        tensor: The delta or weights (any float dtype, any device), for those kinds.
        factors: The LoRA factors, for ``factors``.
    """

    kind: Literal["delta", "weights", "factors", "zero"]
    tensor: Tensor | None = None
    factors: LoraFactors | None = None

    def tensors(self) -> tuple[Tensor, ...]:
        """The tensors this record reads (what a device cache would hold)."""
        if self.factors is not None:
            return (self.factors.a, self.factors.b)
        return () if self.tensor is None else (self.tensor,)

    def moved(self, move: Callable[[int, Tensor], Tensor]) -> Stored:
        """The same record with its ``i``-th tensor (in :meth:`tensors` order) replaced by ``move(i, tensor)``."""
        if self.factors is not None:
            f = self.factors
            return Stored("factors", factors=LoraFactors(move(0, f.a), move(1, f.b), f.scale, f.transpose))
        return Stored(self.kind, None if self.tensor is None else move(0, self.tensor))


def full_delta(stored: Stored, base: Tensor, shape: torch.Size, out: Tensor) -> Tensor:
    """The float32 task vector of one tensor, flat ``[n]``.

    Args:
        stored: How the source holds it, its tensors on the merge device.
        base: The base tensor in float32, flat ``[n]``, on the merge device.
        shape: The tensor's shape.
        out: A float32 ``[n]`` buffer on the merge device; the result is
            written there unless ``stored`` already is that task vector in
            float32 (then a view of it is returned and ``out`` is untouched).
    """
    if stored.kind == "delta":
        flat = stored.tensor.reshape(-1)
        if flat.dtype == COMPUTE_DTYPE and flat.device == out.device:
            return flat
        return out.copy_(flat)
    if stored.kind == "weights":
        return torch.sub(stored.tensor.reshape(-1), base, out=out)
    if stored.kind == "zero":
        return out.zero_()
    f = stored.factors
    a, b = f.a.to(COMPUTE_DTYPE), f.b.to(COMPUTE_DTYPE)
    if f.transpose:
        # shape: [in, out] = (B @ A)^T, as the base stores fan_in_fan_out weights.
        torch.mm(a.T, b.T, out=out.view(shape))
    else:
        torch.mm(b, a, out=out.view(shape))
    return out.mul_(f.scale)


class TaskVectors:
    """A pool's base and task vectors, read one tensor at a time.

    Args:
        mode: ``resident`` or ``mmap`` (see the module docstring).
        shapes: Merged tensor name -> shape, in checkpoint order.
        dtype: The pool's dtype (the live model's, and resident tensors').
        base: Tensor name -> base tensor (held, or a mapped view).
        sources: Source name -> its tensors (:class:`SourceTensors`).
        mapped: Every mapped checkpoint, checked for changes before each merge.
        held_bytes: Bytes of process memory the stored tensors take.
    """

    def __init__(
        self,
        mode: StorageMode,
        shapes: dict[str, torch.Size],
        dtype: torch.dtype,
        base: Mapping[str, Tensor],
        sources: dict[str, SourceTensors],
        mapped: tuple[MappedCheckpoint, ...] = (),
        held_bytes: int = 0,
    ) -> None:
        self.mode = mode
        self.shapes = shapes
        self.dtype = dtype
        self.names = tuple(sources)
        self._base = base
        self._sources = sources
        self._mapped = mapped
        self.held_bytes = held_bytes

    def base(self, tensor: str) -> Tensor:
        """The base tensor in the pool's dtype, on the CPU (held, or a view of the mapped file)."""
        return self._base[tensor]

    def stored(self, source: str, tensor: str) -> Stored:
        """How ``source`` holds ``tensor``."""
        return self._sources[source].stored(tensor)

    def kind(self, source: str) -> str:
        """``delta``, ``weights``, ``factors`` or ``mixed``: how ``source`` holds its tensors."""
        return self._sources[source].kind

    def check_unchanged(self) -> None:
        """Raise :class:`~mmmo.errors.SourceError` if a mapped file changed since it was loaded."""
        for checkpoint in self._mapped:
            checkpoint.check_unchanged()

    @property
    def largest_numel(self) -> int:
        return max((s.numel() for s in self.shapes.values()), default=0)

    def delta(self, source: str, tensor: str) -> Tensor:
        """One full task vector in the pool's dtype (a stored float32 delta is returned as is)."""
        stored = self.stored(source, tensor)
        shape = self.shapes[tensor]
        if stored.kind == "delta" and stored.tensor.dtype == self.dtype:
            return stored.tensor
        base = self._base[tensor].reshape(-1).to(COMPUTE_DTYPE)
        out = torch.empty(shape.numel(), dtype=COMPUTE_DTYPE)
        return full_delta(stored, base, shape, out).view(shape).to(self.dtype)

    def base_state(self) -> Mapping[str, Tensor]:
        """Tensor name -> base tensor in the pool's dtype (a mapped view, or a converted copy when read)."""
        return self._base


class SourceTensors:
    """One source's tensors: a dict of held tensors or a mapped checkpoint, plus LoRA factors."""

    def __init__(
        self,
        kind: str,
        dtype: torch.dtype,
        held: Mapping[str, Tensor] | None = None,
        mapped: MappedCheckpoint | None = None,
        factors: Mapping[str, LoraFactors] | None = None,
    ) -> None:
        self.kind = kind  # "delta", "weights" or "factors"
        self.dtype = dtype
        self._held = held
        self._mapped = mapped
        self._factors = factors

    def stored(self, tensor: str) -> Stored:
        if self.kind == "factors":
            factors = self._factors.get(tensor)
            return Stored("zero") if factors is None else Stored("factors", factors=factors)
        if self._held is not None:
            return Stored(self.kind, self._held[tensor])
        return Stored(self.kind, _as_pool_dtype(self._mapped.tensor(tensor), self.dtype))


def _as_pool_dtype(view: Tensor, dtype: torch.dtype) -> Tensor:
    """A mapped tensor in the pool's dtype: the view itself, or (a file wider than the pool) a rounded copy.

    Rounding mapped weights to the pool's dtype, as a resident pool rounds them
    when it loads them, makes every storage merge to the same bits.
    """
    return view if view.dtype == dtype else view.to(dtype)


class MappedBase(Mapping[str, Tensor]):
    """The base's merged tensors as views of its mapped checkpoint, in the pool's dtype."""

    def __init__(self, checkpoint: MappedCheckpoint, names: tuple[str, ...], dtype: torch.dtype) -> None:
        self._checkpoint = checkpoint
        self._names = names
        self._dtype = dtype

    def __getitem__(self, name: str) -> Tensor:
        if name not in self._names:
            raise KeyError(name)
        return _as_pool_dtype(self._checkpoint.tensor(name), self._dtype)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
