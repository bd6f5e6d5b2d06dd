"""Reading one tensor's base and task vectors in float32 on the merge device.

The pool's tensors live on the CPU (held, or mapped from the checkpoints). On
a GPU a device-memory budget decides which of them are copied to the device
once and kept there (:func:`plan_residency`); the rest are streamed per
tensor: copied into a pinned host buffer, then to a reused device buffer, so
the host-to-device copy runs at pinned speed and no device memory is
allocated per trial. Nothing the reader keeps on the device is copied again
by the merger: the float32 task vectors are formed from these tensors into
the merger's work buffers.
"""

from __future__ import annotations

import mmap
from collections.abc import Collection, Iterable, Sequence

import torch
from torch import Tensor

from mmmo.merge.base import Scratch
from mmmo.sources.task_vectors import COMPUTE_DTYPE, Stored, TaskVectors, full_delta

# Share of the device memory left free after the live model that the pool's
# tensors may take; the rest is for the merge's work buffers and for evaluation.
DEVICE_SHARE = 0.8
PartKey = tuple[str, str, int]  # (base or source name, tensor name, part index)
# Elements per chunk when task vectors are formed from weights on the CPU:
# the base's chunk and each source's stay in cache between the conversion and
# the K subtractions (a whole-tensor pass per source went to memory each time).
READ_CHUNK = 1 << 16


def plan_residency(parts: Iterable[tuple[PartKey, int]], budget: int) -> set[PartKey]:
    """Which parts stay on the device: each, in order, that still fits in ``budget`` bytes.

    Order is the merge order, so with a budget too small for all, the first
    tensors of the model are resident and the rest stream.
    """
    resident: set[PartKey] = set()
    used = 0
    for key, nbytes in parts:
        if used + nbytes <= budget:
            resident.add(key)
            used += nbytes
    return resident


def _nbytes(tensor: Tensor) -> int:
    return tensor.numel() * tensor.element_size()


class TensorReader:
    """One tensor's float32 base and task vectors on ``device``, tensor by tensor.

    Args:
        task_vectors: The pool's storage.
        device: The merge device.
        scratch: The merger's work buffers (float32 slots are taken from it).
        budget: Bytes of device memory the pool's tensors may keep on the
            device. On a GPU, None means :data:`DEVICE_SHARE` of the free
            memory less the work buffers. On the CPU the pool's tensors are
            already where the merge runs; a budget given there makes the
            reader behave as on a device (copies kept or staged), which is how
            the streaming path is tested without a GPU.
    """

    def __init__(
        self, task_vectors: TaskVectors, device: torch.device, scratch: Scratch, budget: int | None = None
    ) -> None:
        self.tv = task_vectors
        self.device = device
        self.scratch = scratch
        self.emulate = device.type == "cpu" and budget is not None
        self.moves = device.type != "cpu" or self.emulate
        self._resident: dict[PartKey, Tensor] = {}
        self._staging: dict[int, Tensor] = {}
        self._copied: dict[int, torch.cuda.Event] = {}
        self._zero_map: mmap.mmap | None = None
        self.streamed_parts = 0
        if self.moves:
            if budget is None:
                budget = self._default_budget()
            self.budget = budget
            self._place(plan_residency(self._parts(), budget))
        else:
            self.budget = None

    # -- placement -------------------------------------------------------

    def _stored_parts(self, tensor: str) -> list[tuple[str, Stored]]:
        return [("", Stored("weights", self.tv.base(tensor)))] + [
            (s, self.tv.stored(s, tensor)) for s in self.tv.names
        ]

    def _parts(self) -> Iterable[tuple[PartKey, int]]:
        for tensor in self.tv.shapes:
            for owner, stored in self._stored_parts(tensor):
                for i, part in enumerate(stored.tensors()):
                    yield (owner, tensor, i), _nbytes(part)

    def _place(self, keys: set[PartKey]) -> None:
        for tensor in self.tv.shapes:
            for owner, stored in self._stored_parts(tensor):
                for i, part in enumerate(stored.tensors()):
                    if (owner, tensor, i) in keys:
                        self._resident[(owner, tensor, i)] = part.to(self.device, copy=True)

    def _default_budget(self) -> int:
        if self.device.type != "cuda":
            return 0
        free, _ = torch.cuda.mem_get_info(self.device)
        work = (len(self.tv.names) + 3) * self.tv.largest_numel * torch.empty((), dtype=COMPUTE_DTYPE).element_size()
        return max(0, int(DEVICE_SHARE * (free - work)))

    @property
    def resident_bytes(self) -> int:
        """Bytes of the pool kept on the device."""
        return sum(_nbytes(t) for t in self._resident.values())

    # -- reads -----------------------------------------------------------

    def _fetch(self, key: PartKey, host: Tensor, slot: int) -> Tensor:
        """``host`` on the merge device: its resident copy, or streamed into buffer ``slot``."""
        if not self.moves:
            return host
        resident = self._resident.get(key)
        if resident is not None:
            return resident
        self.streamed_parts += 1
        n = host.numel()
        flat = host.reshape(-1)
        if self.device.type == "cuda":
            pinned = self._staging_buffer(slot, n, host.dtype)
            pinned.copy_(flat)
            out = self.scratch.get(f"stream{slot}", n, host.dtype)
            out.copy_(pinned, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._copied[slot] = event
        else:
            out = self.scratch.get(f"stream{slot}", n, host.dtype).copy_(flat)
        return out.view(host.shape)

    def _staging_buffer(self, slot: int, n: int, dtype: torch.dtype) -> Tensor:
        # The previous copy out of this pinned buffer must be done before it is overwritten.
        event = self._copied.pop(slot, None)
        if event is not None:
            event.synchronize()
        size = n * torch.empty((), dtype=dtype).element_size()
        buffer = self._staging.get(slot)
        if buffer is None or buffer.numel() < size:
            buffer = torch.empty(size, dtype=torch.uint8, pin_memory=True)
            self._staging[slot] = buffer
        return buffer[:size].view(dtype)

    def read(self, tensor: str, sources: Sequence[str]) -> tuple[Tensor, bool, tuple[Tensor, ...]]:
        """One tensor's float32 base and task vectors of ``sources``, flat ``[n]``, on the merge device.

        Returns ``(base, base_is_buffer, deltas)``. ``base_is_buffer`` says the
        base is a work buffer that the merge may overwrite (it can serve as
        the output: each method reads an entry of the base before it writes
        that entry); otherwise it is the pool's own tensor and must not be written.

        Task vectors of sources held as weights are formed chunk by chunk,
        together with the base's conversion to float32, so each chunk of the
        base is still in cache when every source subtracts it.
        """
        shape = self.tv.shapes[tensor]
        n = shape.numel()
        stored_base = self._fetch(("", tensor, 0), self.tv.base(tensor), slot=0).reshape(-1)
        convert = not (stored_base.dtype == COMPUTE_DTYPE and stored_base.is_contiguous())
        base = self.scratch.get("read_base", n, COMPUTE_DTYPE) if convert else stored_base
        deltas: list[Tensor | None] = []
        others: list[tuple[int, Stored, Tensor]] = []  # (position, record, buffer) formed whole
        subtract: list[tuple[Tensor, Tensor]] = []  # (weights, output) pairs formed in chunks
        for k, source in enumerate(sources):
            stored = self.tv.stored(source, tensor)
            # Streaming slots: 0 is the base's; source k uses 1 + 2k and 2 + 2k (two LoRA factors).
            moved = stored.moved(
                lambda i, part, source=source, k=k: self._fetch((source, tensor, i), part, slot=1 + 2 * k + i)
            )
            buffer = self.scratch.get(self.delta_buffer_key(k), n, COMPUTE_DTYPE)
            if moved.kind == "weights":
                subtract.append((moved.tensor.reshape(-1), buffer))
                deltas.append(buffer)
            else:
                others.append((k, moved, buffer))
                deltas.append(None)
        if convert or subtract:
            step = n if self.device.type != "cpu" else READ_CHUNK
            for start in range(0, n, step):
                stop = min(start + step, n)
                chunk = base[start:stop]
                if convert:
                    chunk.copy_(stored_base[start:stop])
                for weights, out in subtract:
                    torch.sub(weights[start:stop], chunk, out=out[start:stop])
        for k, moved, buffer in others:
            if moved.kind == "zero" and self.device.type == "cpu":
                deltas[k] = self._zeros(n)
            else:
                deltas[k] = full_delta(moved, base, shape, buffer)
        return base, convert, tuple(deltas)

    def read_weights(
        self, tensor: str, sources: Sequence[str], dtypes: Collection[torch.dtype]
    ) -> tuple[Tensor, tuple[Tensor, ...], tuple[bool, ...]] | None:
        """One tensor's base and sources as stored, for a kernel that forms task vectors itself.

        Returns ``(base, inputs, from_weights)``, all flat ``[n]`` on the CPU:
        the pool's own base tensor, and per source either its own weights
        (``from_weights[k]``) or its task vector (a held delta, a LoRA update
        formed in a work buffer, or zeros). None where that does not apply:
        tensors off the CPU or streamed, or a base or weights that are not
        contiguous tensors of ``dtypes``; then :meth:`read` is the way.
        """
        if self.moves:
            return None
        base = self.tv.base(tensor)
        if not (base.dtype in dtypes and base.is_contiguous()):
            return None
        shape = self.tv.shapes[tensor]
        n = shape.numel()
        inputs: list[Tensor] = []
        from_weights: list[bool] = []
        for k, source in enumerate(sources):
            stored = self.tv.stored(source, tensor)
            if stored.kind == "weights":
                if not (stored.tensor.dtype in dtypes and stored.tensor.is_contiguous()):
                    return None
                inputs.append(stored.tensor.reshape(-1))
            elif stored.kind == "delta" and stored.tensor.dtype in dtypes and stored.tensor.is_contiguous():
                inputs.append(stored.tensor.reshape(-1))
            elif stored.kind == "zero":
                inputs.append(self._zeros(n))
            else:
                # Deltas of another dtype and LoRA updates do not read the base.
                buffer = self.scratch.get(self.delta_buffer_key(k), n, COMPUTE_DTYPE)
                inputs.append(full_delta(stored, None, shape, buffer))
            from_weights.append(stored.kind == "weights")
        return base.reshape(-1), tuple(inputs), tuple(from_weights)

    @staticmethod
    def delta_buffer_key(k: int) -> str:
        """The work buffer the ``k``-th source's float32 task vector is formed in."""
        return f"read_delta{k}"

    def _zeros(self, n: int) -> Tensor:
        """``n`` float32 zeros that take no memory: a never-written private anonymous mapping.

        Reading untouched anonymous pages maps the kernel's shared zero page,
        so a LoRA source's task vector of a tensor it does not touch costs
        nothing, however large the tensor. Nothing writes task vectors.
        """
        if self._zero_map is None or len(self._zero_map) < 4 * n:
            size = 4 * max(n, self.tv.largest_numel)
            self._zero_map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        return torch.frombuffer(self._zero_map, dtype=COMPUTE_DTYPE, count=n)
