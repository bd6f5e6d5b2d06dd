"""Seeded Bernoulli keep-masks (DARE) drawn as random bytes instead of random floats.

A keep/drop decision needs a few random bits, not the 24 of a ``torch.rand``
float, and drawing the generator is the slowest step of a DARE merge. So each
64-bit draw (``random_`` over the full int64 range, so every bit is uniform) is
split into ``64 / KEEP_BITS`` signed integers ``u`` uniform on
``[-2^(b-1), 2^(b-1))``, and an entry is kept iff ``u < level - 2^(b-1)`` with
``level = round(density * 2^b)``. The keep probability is therefore the
quantised ``level / 2^b`` (steps of ``1 / 256`` for ``b = 8``); rescaling
divides by exactly that probability, so the merge stays unbiased. Densities
below ``1 / 512`` keep nothing.

Draws are consumed in entry order from one generator per (plan seed, tensor
name, source position), so a mask depends neither on the other sources nor,
for chunk sizes that are multiples of ``64 / KEEP_BITS``, on the chunk size.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmmo.merge.base import Scratch

# Bits per Bernoulli draw. 8 bits is 8 draws per 64-bit generator call, twice
# the rate of 16 bits; measured with benchmarks/merge_throughput.py.
KEEP_BITS = 8
_DRAW_DTYPE = {8: torch.int8, 16: torch.int16}[KEEP_BITS]
_PER_WORD = 64 // KEEP_BITS
_HALF = 1 << (KEEP_BITS - 1)


def keep_level(density: float) -> int:
    """``round(density * 2^b)``: the quantised keep probability, in units of ``2^-b``."""
    return min(1 << KEEP_BITS, max(0, round(density * (1 << KEEP_BITS))))


def quantized_density(density: float) -> float:
    """The keep probability a mask drawn for ``density`` really has."""
    return keep_level(density) / (1 << KEEP_BITS)


def draw_keep_mask(generator: torch.Generator, level: int, out: Tensor, scratch: Scratch) -> Tensor:
    """Write a float 0/1 mask into ``out: [m]`` (float32), each entry 1 with probability ``level / 2^b``.

    Args:
        generator: Consumed for ``ceil(m / (64 / b))`` 64-bit draws.
        level: From :func:`keep_level`.
        out: Float32 destination, ``[m]``.
        scratch: Work buffers (the raw draws live there).
    """
    m = out.numel()
    words = scratch.get("random_words", -(-m // _PER_WORD), torch.int64)
    words.random_(-(1 << 63), None, generator=generator)  # full range: every byte uniform
    draws = words.view(_DRAW_DTYPE)[:m]
    # For integers, threshold - u >= 1 iff u < threshold, and <= 0 otherwise,
    # so clamping to [0, 1] gives the mask exactly without a bool tensor
    # (bool compares and bool-float products are several times slower on CPUs).
    out.copy_(draws)  # small integers: exact in float32
    return out.neg_().add_(level - _HALF).clamp_(0.0, 1.0)
