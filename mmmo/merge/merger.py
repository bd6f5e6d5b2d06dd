"""The in-memory merger: one live model that receives each candidate's weights in place.

Building a :class:`Merger` loads the live model once. Each :meth:`Merger.apply`
writes every merged tensor straight into the live parameter, one tensor at a
time, on the model's device; no file is written. Each tensor's base and task
vectors are read in float32 (:class:`~mmmo.merge.tensor_reader.TensorReader`,
from the pool's storage, kept on or streamed to the device) and the merged
tensor is written in the live model's dtype. On the CPU, task arithmetic,
linear, DARE-linear and DARE-TIES merge from the pool's own 16-bit weights
instead (``FROM_WEIGHTS``):
each task vector is formed a piece at a time in cache and never written whole,
with the same bits. Work that does not depend on the
trial is done once: task vectors (in the pool, or formed per tensor from the
mapped checkpoints), the pool's device copies within a memory budget, and
per-tensor magnitude indexes (built the first time a trimming method needs
them). Work buffers are reused across trials.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from mmmo.errors import MergeError, SourceError
from mmmo.merge import native
from mmmo.merge.base import DEFAULT_CHUNK, MergeMethod, Scratch, TensorJob, budget_chunk
from mmmo.merge.magnitude import MagnitudeIndex
from mmmo.merge.methods import get_method
from mmmo.merge.dare_linear import merge_dare_linear_from_weights
from mmmo.merge.dare_ties import merge_dare_ties_from_weights
from mmmo.merge.linear import merge_linear_from_weights
from mmmo.merge.task_arithmetic import merge_task_arithmetic_from_weights
from mmmo.merge.tensor_reader import TensorReader
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool
from mmmo.sources.task_vectors import COMPUTE_DTYPE


# torch CPU threads while merging; see Merger's ``threads``. A merge is
# thousands of short ops, each a fork-join across the threads: when another
# process holds a core, every op waits for the descheduled thread.
DEFAULT_THREADS = 1
# Methods that merge straight from the sources' weights on the CPU, forming each
# task vector a piece at a time in cache, by name: ``merge(job, from_weights)``
# returns whether it merged (see :meth:`Merger._merge_from_weights`).
FROM_WEIGHTS: dict[str, Callable[[TensorJob, tuple[bool, ...]], bool]] = {
    "dare_linear": merge_dare_linear_from_weights,
    "dare_ties": merge_dare_ties_from_weights,
    "linear": merge_linear_from_weights,
    "task_arithmetic": merge_task_arithmetic_from_weights,
}


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS (glibc only; a no-op elsewhere).

    Loading checkpoints leaves many freed tensor-sized blocks in glibc's heap;
    without this they stay resident for the life of the process.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        return


class Merger:
    """Merge plans into one live causal LM.

    Args:
        pool: Base and task vectors.
        device: Where the live model lives and the merge runs (``"cpu"``, ``"cuda"``).
        chunk: Elements per work chunk (default: 2^16 on the CPU; on GPUs, as many
            as keep all work buffers within one largest tensor's bytes).
        threads: torch CPU threads while merging on the CPU (restored after each
            merge, so evaluation keeps its own setting); None leaves torch's.
            Default 1: a merge is a chain of short elementwise ops on
            cache-sized chunks, and on a shared machine a second thread made
            it far slower (see ``DEFAULT_THREADS``).
        device_budget: Bytes of device memory the pool's tensors may keep on a
            GPU; the rest streams from pinned host memory per tensor (see
            :class:`~mmmo.merge.tensor_reader.TensorReader`). None: most of what
            is free after the live model.

    Attributes:
        model: The live ``AutoModelForCausalLM``, in eval mode.
        tokenizer: The pool's tokenizer (or None).
    """

    def __init__(
        self,
        pool: ModelPool,
        device: str | torch.device = "cpu",
        chunk: int | None = None,
        threads: int | None = DEFAULT_THREADS,
        device_budget: int | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise MergeError(f"Merger threads must be at least 1, got {threads}")
        self.pool = pool
        self.device = torch.device(device)
        self.threads = threads
        self.model: nn.Module = pool.build_model(self.device)
        self.tokenizer = pool.tokenizer
        # Off the CPU, work buffers together hold at most one largest tensor's bytes, so a
        # merge needs under twice the largest tensor beside the pool (benchmarks/merge_memory.py).
        largest = max(math.prod(shape) for shape in pool.task_vectors.shapes.values()) * self.model.dtype.itemsize
        self.chunk = chunk or (DEFAULT_CHUNK if self.device.type == "cpu" else budget_chunk(largest, len(pool.names)))
        self.scratch = Scratch(self.device)
        # Built here, so a model that cannot be laid out is refused before any merge.
        self.layout = pool.layout
        params = dict(self.model.named_parameters(remove_duplicate=False))
        self._targets: dict[str, Tensor] = {}
        for name, shape in pool.task_vectors.shapes.items():
            param = params.get(name)
            if param is None:
                raise SourceError(f"the live model has no parameter {name!r} of the base checkpoint")
            if param.shape != shape:
                raise SourceError(f"live parameter {name!r} has shape {list(param.shape)}, checkpoint {list(shape)}")
            self._targets[name] = param
        self.reader = TensorReader(pool.task_vectors, self.device, self.scratch, device_budget)
        self._magnitudes: dict[tuple[str, str], MagnitudeIndex] = {}
        #: Tensors merged from the sources' weights (see :meth:`_merge_from_weights`).
        self.from_weights_tensors = 0
        release_free_memory()

    def magnitude_index(self, source: str, tensor: str, delta: Tensor, work_key: str = "sort") -> MagnitudeIndex:
        """Magnitude order statistics of one task vector (built once from ``delta``, then cached).

        ``work_key`` names the work buffer the sorted copy is made in.
        """
        key = (source, tensor)
        index = self._magnitudes.get(key)
        if index is None:
            work = self.scratch.get(work_key, delta.numel(), delta.dtype) if delta.device.type == "cpu" else None
            index = MagnitudeIndex.build(delta, work=work)
            self._magnitudes[key] = index
        return index

    def _build_magnitude_indexes(self, sources: tuple[str, ...]) -> None:
        """Index every tensor of ``sources`` not indexed yet, one source's task vector at a time.

        Done before a merge rather than inside it, so the sort buffer never
        sits beside the K task vectors of a tensor: the first trial of a
        trimming method peaks no higher than the later ones.
        """
        for tensor in self._targets:
            for source in sources:
                if (source, tensor) not in self._magnitudes:
                    _, _, (delta,) = self.reader.read(tensor, (source,))
                    # Reading one source fills only the first task-vector buffer;
                    # the second, kept from earlier merges, is free to sort in.
                    self.magnitude_index(source, tensor, delta, work_key=self.reader.delta_buffer_key(1))
        # The sort buffer is only needed while indexes are built (the first trial).
        # Freed, it would stay in the C heap (glibc serves blocks of this size
        # from the heap once one was freed), so trimming hands it back.
        if self.scratch.release("sort"):
            release_free_memory()

    def validate(self, plan: MergePlan) -> tuple[MergeMethod, dict]:
        """Check a plan against the pool and its method; return the method and its options."""
        method = get_method(plan.method)
        unknown = [s for s in plan.sources if s not in self.pool.names]
        if unknown:
            raise MergeError(f"plan names source {unknown[0]!r}, the pool has {list(self.pool.names)}")
        if len(set(plan.sources)) != len(plan.sources):
            raise MergeError(f"plan lists a source twice: {list(plan.sources)}")
        grouping = plan.grouping
        if grouping.kind in ("blocks", "layer") and grouping.num_layers != self.pool.num_layers:
            raise MergeError(
                f"plan groups {grouping.num_layers} layers into {grouping.kind}, the model has {self.pool.num_layers}"
            )
        return method, method.validate(plan)

    def apply(self, plan: MergePlan) -> float:
        """Write the plan's merged weights into :attr:`model`; return the seconds it took."""
        start = time.perf_counter()
        method, options = self.validate(plan)
        self.pool.task_vectors.check_unchanged()
        previous = torch.get_num_threads()
        switch = self.device.type == "cpu" and self.threads is not None and self.threads != previous
        if switch:
            torch.set_num_threads(self.threads)
        try:
            self._merge(plan, method, options)
        finally:
            if switch:
                torch.set_num_threads(previous)
        return time.perf_counter() - start

    @torch.no_grad()
    def _merge(self, plan: MergePlan, method: MergeMethod, options: dict) -> None:
        if method.uses_magnitudes:
            self._build_magnitude_indexes(plan.sources)
        from_weights = FROM_WEIGHTS.get(method.name) if self.device.type == "cpu" else None
        for name, target in self._targets.items():
            if from_weights is not None and self._merge_from_weights(name, target, plan, options, from_weights):
                continue
            base, base_is_buffer, deltas = self.reader.read(name, plan.sources)
            magnitudes = tuple(self._magnitudes[(s, name)] for s in plan.sources) if method.uses_magnitudes else None
            direct = target.is_contiguous() and target.dtype == COMPUTE_DTYPE
            # A 16-bit live model: merge in float32 into the base's own work
            # buffer (one tensor-sized buffer less), then round into the parameter.
            out = target.data.view(-1) if direct else base if base_is_buffer else self._out(target)
            method.merge(self._job(name, target, plan, options, base, deltas, out, magnitudes))
            if not direct:
                target.data.copy_(out.view(target.shape))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _merge_from_weights(
        self,
        name: str,
        target: Tensor,
        plan: MergePlan,
        options: dict,
        merge: Callable[[TensorJob, tuple[bool, ...]], bool],
    ) -> bool:
        """Merge one tensor from the sources' 16-bit weights themselves; return whether it did.

        The method forms each task vector from the base's and the source's
        weights a piece at a time in cache (in the C kernel; linear in torch)
        and writes the live parameter in its own dtype, so the float32 task
        vectors never go to memory: the same bits as :meth:`TensorReader.read`
        followed by the method, with about half the memory traffic.
        """
        if not (target.is_contiguous() and target.dtype in native.KERNEL_DTYPES):
            return False
        read = self.reader.read_weights(name, plan.sources, native.KERNEL_DTYPES)
        if read is None or not any(read[2]):
            return False
        base, inputs, from_weights = read
        job = self._job(name, target, plan, options, base, inputs, target.data.view(-1))
        if not merge(job, from_weights):
            return False
        self.from_weights_tensors += 1
        return True

    def _job(
        self,
        name: str,
        target: Tensor,
        plan: MergePlan,
        options: dict,
        base: Tensor,
        deltas: tuple[Tensor, ...],
        out: Tensor,
        magnitudes: tuple[MagnitudeIndex, ...] | None = None,
    ) -> TensorJob:
        """One tensor's merge inputs: ``deltas`` are task vectors, or weights where the method takes them."""
        return TensorJob(
            name=name,
            shape=target.shape,
            base=base,
            deltas=deltas,
            params=plan.params_for(self.layout.place(name)),
            options=options,
            seed=plan.seed,
            out=out,
            scratch=self.scratch,
            chunk=self.chunk,
            magnitudes=magnitudes,
        )

    def _out(self, target: Tensor) -> Tensor:
        return self.scratch.get("out", target.numel(), COMPUTE_DTYPE)

    @torch.no_grad()
    def apply_base(self) -> None:
        """Put the base model's weights back into :attr:`model`."""
        self.pool.task_vectors.check_unchanged()
        for name, target in self._targets.items():
            base, _, _ = self.reader.read(name, ())
            target.data.copy_(base.view(target.shape))

    @torch.no_grad()
    def apply_source(self, name: str) -> None:
        """Put source ``name``'s own weights (base + its task vector) into :attr:`model`."""
        if name not in self.pool.names:
            raise MergeError(f"unknown source {name!r}; the pool has {list(self.pool.names)}")
        self.pool.task_vectors.check_unchanged()
        for tensor, target in self._targets.items():
            base, base_is_buffer, (delta,) = self.reader.read(tensor, (name,))
            direct = target.is_contiguous() and target.dtype == COMPUTE_DTYPE
            out = target.data.view(-1) if direct else base if base_is_buffer else self._out(target)
            torch.add(base, delta, out=out)
            if not direct:
                target.data.copy_(out.view(target.shape))

    def export(self, plan: MergePlan, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Merge ``plan`` and save it as an HF checkpoint (see :func:`mmmo.merge.export.export_plan`)."""
        from mmmo.merge.export import export_plan

        return export_plan(self, plan, Path(out_dir), overwrite=overwrite)
