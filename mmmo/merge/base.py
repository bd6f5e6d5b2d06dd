"""What every merge method sees: one tensor's inputs (a :class:`TensorJob`) and a method record.

A method merges one tensor at a time. Its inputs are flat views: the base
tensor ``base: [n]``, one task vector per source ``deltas[k]: [n]``, and the
destination ``out: [n]`` (the live model's parameter, written in place). The
per-source :class:`~mmmo.plan.SourceParams` are those of the tensor's group.

Inputs and destination may be float32, bfloat16 or float16 (each its own).
The arithmetic is always float32 (float64 when the base is float64): each
chunk of a 16-bit input is widened into a work buffer (:meth:`TensorJob.read`),
sums run in a float32 accumulator (:meth:`TensorJob.accumulator`), and the
result is rounded once, when it is written into ``out``. Widening is exact,
so magnitude thresholds and random masks keep the same entries whatever the
dtypes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import Tensor

from mmmo.errors import MergeError
from mmmo.plan import MergePlan, SourceParams

OptionValue = float | bool

# Elements per work chunk on CPUs: small enough that the K + 4 float buffers of
# a sign-consensus merge (TIES, DARE-TIES; 256 KiB each) stay in cache, so the
# dozen elementwise passes per source do not go to memory; large enough that
# the Python and dispatch overhead per chunk stays small.
DEFAULT_CHUNK = 1 << 16
# Bytes of work memory per chunk entry besides two float32 rows per source
# (a sign-consensus merge's kept rows; a widened copy of each 16-bit delta):
# the float32 work buffers every method together keeps in one Scratch (13 kinds:
# accumulator, widened base and delta, kept row, keep mask, upper trim, elected
# sign, agreeing sum, divisor, two bracket buffers, two SLERP endpoints), and
# the int64 temporaries of a random keep mask (about 24 bytes).
_WORK_BYTES_PER_ENTRY = 13 * 4 + 24
# Largest chunk on a GPU: large enough that each op fills the device.
DEVICE_CHUNK = 1 << 22
# Smallest chunk a memory budget may ask for (the per-chunk overhead grows below it).
MIN_CHUNK = 1 << 10
# Chunk floor for plain weighted sums (linear, task arithmetic, DARE-linear),
# which make one or two passes per source and keep nothing in cache between
# them: larger chunks only cut the overhead per op.
STREAM_CHUNK = 1 << 20


def budget_chunk(budget_bytes: int, sources: int, cap: int = DEVICE_CHUNK) -> int:
    """Entries per work chunk so that a merge of ``sources`` task vectors uses at most ``budget_bytes`` of work memory.

    Counts two float32 rows per source and the buffers of
    ``_WORK_BYTES_PER_ENTRY``, for every method at once (a merger's work
    buffers outlive a trial, and trials change methods); the result is a multiple of
    ``MIN_CHUNK`` (so random-mask words never straddle chunks) in
    ``[MIN_CHUNK, cap]``.
    """
    per_entry = 8 * max(1, sources) + _WORK_BYTES_PER_ENTRY
    entries = budget_bytes // per_entry
    return max(MIN_CHUNK, min(cap, entries - entries % MIN_CHUNK))


class Scratch:
    """Reusable work buffers, so a merge allocates nothing after its first trial."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffers: dict[tuple[str, torch.dtype], Tensor] = {}

    def get(self, key: str, numel: int, dtype: torch.dtype) -> Tensor:
        """A flat buffer of at least ``numel`` elements (contents undefined)."""
        buffer = self._buffers.get((key, dtype))
        if buffer is None or buffer.numel() < numel:
            buffer = torch.empty(numel, dtype=dtype, device=self.device)
            self._buffers[(key, dtype)] = buffer
        return buffer[:numel]

    def release(self, key: str) -> bool:
        """Free the buffers named ``key`` (of every dtype); return whether there were any."""
        keys = [k for k in self._buffers if k[0] == key]
        for buffer_key in keys:
            del self._buffers[buffer_key]
        return bool(keys)

    @property
    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self._buffers.values())


@dataclass(frozen=True)
class TensorJob:
    """Inputs of one tensor's merge.

    Attributes:
        name: State-dict name of the tensor.
        shape: Its shape (the flat views below are ``shape.numel()`` long).
        base: Base tensor, flat ``[n]``.
        deltas: Task vector of each plan source, flat ``[n]`` each.
        params: The tensor group's parameters, one per plan source.
        options: Method options, defaults filled in.
        seed: The plan's seed (random masks are drawn per (seed, name)).
        out: Destination, flat ``[n]``; may be the live parameter itself.
        scratch: Work buffers on the merge device.
        chunk: Elements per work chunk.
        magnitudes: Per-source magnitude index of this tensor (None when the
            method does not trim by magnitude).
        offset: Index of ``base[0]`` in the whole tensor, for a caller that
            merges a tensor in slices: random masks are drawn by that index,
            so the slices merge to the same bits as the whole. Methods that
            rank or measure the whole tensor (TIES, Breadcrumbs, DELLA, SLERP,
            Model Stock) need ``offset == 0`` and the whole tensor.
    """

    name: str
    shape: torch.Size
    base: Tensor
    deltas: tuple[Tensor, ...]
    params: tuple[SourceParams, ...]
    options: Mapping[str, OptionValue]
    seed: int
    out: Tensor
    scratch: Scratch
    chunk: int = DEFAULT_CHUNK
    magnitudes: tuple[object, ...] | None = None
    offset: int = 0

    @property
    def numel(self) -> int:
        return self.base.numel()

    @property
    def compute_dtype(self) -> torch.dtype:
        """float32, or float64 for a float64 base: the dtype every sum is formed in."""
        return torch.float64 if self.base.dtype == torch.float64 else torch.float32

    def read(self, tensor: Tensor, start: int, stop: int, key: str) -> Tensor:
        """``tensor[start:stop]`` in :attr:`compute_dtype`: the view itself, or a widened copy in scratch ``key``."""
        piece = tensor[start:stop]
        if piece.dtype == self.compute_dtype:
            return piece
        return self.scratch.get(key, stop - start, self.compute_dtype).copy_(piece)

    def accumulator(self, start: int, stop: int) -> Tensor:
        """Where entries ``[start, stop)`` of the result are formed: ``out``'s own view when it
        has :attr:`compute_dtype`, else a work buffer; :meth:`write` puts it into ``out``."""
        piece = self.out[start:stop]
        if piece.dtype == self.compute_dtype:
            return piece
        return self.scratch.get("accumulator", stop - start, self.compute_dtype)

    def write(self, result: Tensor, start: int, stop: int) -> None:
        """Round ``result`` (from :meth:`accumulator`) into ``out[start:stop]``, unless it is that view."""
        piece = self.out[start:stop]
        if result.data_ptr() != piece.data_ptr() or result.dtype != piece.dtype:
            piece.copy_(result)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(p.weight for p in self.params)

    @property
    def densities(self) -> tuple[float, ...]:
        return tuple(p.density for p in self.params)

    def chunks(self, floor: int = 1) -> Iterator[tuple[int, int]]:
        """``(start, stop)`` of consecutive work chunks covering ``[0, n)``, each at least ``floor`` long."""
        n = self.numel
        # The floor cuts per-op overhead on CPUs; elsewhere the chunk is a memory budget's.
        size = max(self.chunk, floor) if self.out.device.type == "cpu" else self.chunk
        for start in range(0, n, size):
            yield start, min(start + size, n)

    def stream_key(self, source: int) -> int:
        """A 64-bit key from (plan seed, tensor name, source position), by a stable hash.

        One stream per source keeps each source's random mask independent of
        the others'; the mask is a function of this key and the entry's index
        (:mod:`mmmo.merge.random_keep`).
        """
        key = f"{self.seed}\x00{self.name}\x00{source}"
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")

    def generator(self, source: int) -> torch.Generator:
        """A torch generator seeded with :meth:`stream_key` (DELLA's per-entry draws)."""
        generator = torch.Generator(device=self.base.device)
        generator.manual_seed(self.stream_key(source) & ((1 << 63) - 1))
        return generator


@dataclass(frozen=True)
class MergeMethod:
    """A merge method: its name, options and per-tensor function.

    Attributes:
        name: mmmo's name for it (the ``method`` of a :class:`MergePlan`).
        merge: Writes the merged tensor of a :class:`TensorJob` into ``job.out``.
        defaults: Every option the method accepts, with its default.
        mergekit_name: The same method's name in mergekit, or None.
        min_sources: Fewest plan sources the method accepts.
        max_sources: Most plan sources it accepts (None: no bound).
        uses_density: Whether densities below 1 mean anything to it.
        uses_magnitudes: Whether it needs the per-tensor magnitude index.
        check: Extra validation of a plan (ranges that depend on options).
    """

    name: str
    merge: Callable[[TensorJob], None]
    defaults: Mapping[str, OptionValue | None] = field(default_factory=dict)
    mergekit_name: str | None = None
    min_sources: int = 1
    max_sources: int | None = None
    uses_density: bool = False
    uses_magnitudes: bool = False
    check: Callable[[MergePlan, Mapping[str, OptionValue]], None] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def resolve_options(self, plan: MergePlan) -> dict[str, OptionValue]:
        """The plan's options with defaults filled in, validated by name and type."""
        unknown = sorted(set(plan.options) - set(self.defaults))
        if unknown:
            raise MergeError(
                f"method {self.name!r} has no option {unknown[0]!r}; "
                f"its options are {sorted(self.defaults)}"
            )
        # A default of None means "absent unless the plan sets it".
        options = {key: value for key, value in self.defaults.items() if value is not None}
        for key, value in plan.options.items():
            default = self.defaults[key]
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise MergeError(f"option {key!r} of {self.name!r} must be true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise MergeError(f"option {key!r} of {self.name!r} must be a finite number, got {value!r}")
            options[key] = value if isinstance(default, bool) else float(value)
        return options

    def validate(self, plan: MergePlan) -> dict[str, OptionValue]:
        """Check a plan against this method; return its resolved options."""
        k = len(plan.sources)
        if k < self.min_sources or (self.max_sources is not None and k > self.max_sources):
            wanted = (
                f"exactly {self.min_sources}"
                if self.max_sources == self.min_sources
                else f"at least {self.min_sources}"
                if self.max_sources is None
                else f"{self.min_sources} to {self.max_sources}"
            )
            raise MergeError(f"method {self.name!r} takes {wanted} sources, the plan has {k}: {list(plan.sources)}")
        if not self.uses_density:
            for group, per_source in plan.params.items():
                for source, params in zip(plan.sources, per_source):
                    if params.density != 1.0:
                        raise MergeError(
                            f"method {self.name!r} does not sparsify, but source {source!r} "
                            f"has density {params.density} in group {group!r}"
                        )
        options = self.resolve_options(plan)
        if self.check is not None:
            self.check(plan, options)
        return options
