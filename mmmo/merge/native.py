"""The one-pass C kernel of generalized task arithmetic (``gta_kernel.c``), called through ctypes.

:mod:`mmmo.merge.gta` merges CPU tensors with the kernel when it can (float32
and bfloat16 ones directly, bfloat16 widened in the kernel; float16 ones chunk
by chunk, widened to float32 first), and with torch ops otherwise (GPUs, a keep rule the kernel lacks, no C
compiler, ``MMMO_NATIVE=0``). Both give the same merge: the same keep
rules, the same random masks (:mod:`mmmo.merge.random_keep`), and sums that
differ only by float rounding order. Building and caching is
:class:`mmmo.native.NativeLibrary`'s.
"""

from __future__ import annotations

import ctypes
from collections.abc import Collection, Sequence
from pathlib import Path

import torch
from torch import Tensor

from mmmo.native import NativeLibrary

__all__ = [
    "KEEP_CODES",
    "KERNEL_DTYPES",
    "MAX_SOURCES",
    "WIDENED_DTYPES",
    "available",
    "bracket_magnitudes",
    "gta_merge",
    "kernel",
    "usable",
    "usable_widened",
]

#: Keep rules the kernel implements, by :class:`mmmo.merge.gta.Keep` kind.
KEEP_CODES = {"all": 0, "above": 1, "between": 2, "bernoulli": 3}
#: Most sources one kernel call merges (its per-block buffers live on the stack).
MAX_SOURCES = 32
#: Dtypes the kernel reads and writes itself (bfloat16 widened to float32 in the kernel), by code.
KERNEL_DTYPES = {torch.float32: 0, torch.bfloat16: 1}
#: Dtypes the kernel's callers take: those above, and float16 widened to float32 chunk by chunk first.
WIDENED_DTYPES = frozenset({torch.float32, torch.bfloat16, torch.float16})


def _declare(library: ctypes.CDLL) -> None:
    library.gta_merge.restype = ctypes.c_int
    library.gta_merge.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_void_p,
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
        ctypes.c_float, ctypes.c_float, ctypes.c_void_p, ctypes.c_int64,
        ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
    ]  # fmt: skip
    library.bracket_magnitudes.restype = ctypes.c_int64
    library.bracket_magnitudes.argtypes = [
        ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_float, ctypes.c_void_p, ctypes.c_int64,
    ]  # fmt: skip


kernel = NativeLibrary(Path(__file__).with_name("gta_kernel.c"), "the merge kernel", _declare)
_load = kernel.load


def available() -> bool:
    """Whether the kernel is built and loaded (building it on the first call)."""
    return kernel.available()


def usable(*tensors: Tensor, dtypes: Collection[torch.dtype] = (torch.float32,)) -> bool:
    """Whether the kernel can take these tensors: contiguous, on the CPU, of ``dtypes``, and it is available.

    :func:`gta_merge` takes :data:`KERNEL_DTYPES`; :func:`bracket_magnitudes` float32 only.
    """
    return all(t.device.type == "cpu" and t.dtype in dtypes and t.is_contiguous() for t in tensors) and (
        available()
    )


def usable_widened(*tensors: Tensor) -> bool:
    """Whether the kernel can take these tensors chunk by chunk, widened to float32 first: contiguous
    CPU tensors of :data:`WIDENED_DTYPES`, some not of :data:`KERNEL_DTYPES` (those go whole)."""
    return (
        all(t.device.type == "cpu" and t.dtype in WIDENED_DTYPES and t.is_contiguous() for t in tensors)
        and any(t.dtype not in KERNEL_DTYPES for t in tensors)
        and available()
    )


def _array(ctype, values: Sequence) -> ctypes.Array:
    return (ctype * len(values))(*values)


def gta_merge(
    base: Tensor,
    deltas: Sequence[Tensor],
    kinds: Sequence[str],
    lows: Sequence[float],
    highs: Sequence[float],
    levels: Sequence[int],
    keys: Sequence[int],
    coefficients: Sequence[float],
    weights: Sequence[float],
    consensus: bool,
    normalize: bool,
    scalar_divisor: float,
    lam: float,
    out: Tensor,
    offset: int = 0,
    from_weights: Sequence[bool] | None = None,
) -> None:
    """Write the merge of flat ``base: [n]`` and ``deltas[k]: [n]`` into ``out: [n]`` (see gta_kernel.c).

    Each tensor is float32 or bfloat16 (:data:`KERNEL_DTYPES`); the arithmetic is float32.

    ``from_weights[k]`` true says ``deltas[k]`` holds source ``k``'s weights: the
    kernel forms its task vector ``f32(weights) - f32(base)`` block by block in
    cache, the same float32 subtraction the reader makes, so the merge has the
    same bits as one given that task vector, at a fraction of the memory traffic.

    ``offset`` (a multiple of 4) is the index of entry 0 in the whole tensor: random
    masks are drawn by that index, so slices of a tensor merge to the bits of the whole.
    """
    library = _load()
    if library is None:
        raise RuntimeError("the merge kernel is not available")
    k = len(deltas)
    if not 1 <= k <= MAX_SOURCES:
        raise ValueError(f"the merge kernel takes 1 to {MAX_SOURCES} sources, got {k}")
    if offset < 0 or offset % 4:
        raise ValueError(f"the merge kernel needs an offset that is a non-negative multiple of 4, got {offset}")
    for tensor in (base, out, *deltas):
        if tensor.dtype not in KERNEL_DTYPES:
            raise ValueError(f"the merge kernel takes {sorted(map(str, KERNEL_DTYPES))} tensors, got {tensor.dtype}")
    pointers = _array(ctypes.c_void_p, [d.data_ptr() for d in deltas])
    delta_types = _array(ctypes.c_int32, [KERNEL_DTYPES[d.dtype] for d in deltas])
    if from_weights is not None and len(from_weights) != k:
        raise ValueError(f"the merge kernel got {len(from_weights)} from_weights flags for {k} sources")
    weights_flags = None if from_weights is None else _array(ctypes.c_int32, [int(bool(f)) for f in from_weights])
    status = library.gta_merge(
        base.data_ptr(), ctypes.addressof(pointers), k, base.numel(),
        _array(ctypes.c_int32, [KEEP_CODES[kind] for kind in kinds]),
        _array(ctypes.c_float, lows), _array(ctypes.c_float, highs),
        _array(ctypes.c_uint32, levels), _array(ctypes.c_uint64, keys),
        _array(ctypes.c_float, coefficients), _array(ctypes.c_float, weights),
        int(consensus), int(normalize), scalar_divisor, lam, out.data_ptr(), offset,
        KERNEL_DTYPES[base.dtype], delta_types, KERNEL_DTYPES[out.dtype], torch.get_num_threads(),
        None if weights_flags is None else ctypes.addressof(weights_flags),
    )  # fmt: skip
    if status != 0:
        raise RuntimeError(f"the merge kernel refused its arguments (status {status})")


def bracket_magnitudes(delta: Tensor, low: float, high: float, capacity: int) -> Tensor:
    """The ``|delta|`` (flat float32 ``[n]``) in ``[low, high]``, in index order."""
    library = _load()
    if library is None:
        raise RuntimeError("the merge kernel is not available")
    while True:
        found = torch.empty(max(capacity, 1), dtype=torch.float32)
        count = library.bracket_magnitudes(delta.data_ptr(), delta.numel(), low, high, found.data_ptr(), capacity)
        if count <= capacity:
            return found[:count]
        capacity = int(count)
