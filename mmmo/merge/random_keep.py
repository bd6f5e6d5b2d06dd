"""Seeded Bernoulli keep-masks (DARE) from a counter-based hash.

A keep/drop decision needs a few random bits, not the 24 of a ``torch.rand``
float, and it must not depend on how a tensor is cut into chunks, on which
device or in which order the chunks are merged. So every entry's bits are a
hash of its position: entry ``i`` of a tensor draws byte ``i mod 4`` of

    h(i) = mix32((mix32(lo32(i // 4) ^ key_lo) + hi32(i // 4)) ^ key_hi)

where ``mix32`` is a 32-bit integer finaliser (xorshift-multiply, "lowbias32")
and the 64-bit ``key`` is a hash of (plan seed, tensor name, source position)
(:meth:`mmmo.merge.base.TensorJob.stream_key`). The byte ``u`` is uniform on
``[0, 256)``; an entry is kept iff ``u < level`` with ``level = round(density
* 256)``, so the keep probability is the quantised ``level / 256`` (steps of
``1 / 256``), and rescaling divides by exactly that probability, which keeps
the merge unbiased. Densities below ``1 / 512`` keep nothing.

The C kernel (``gta_kernel.c``) computes the same bytes, so a merge gives the
same mask with or without it, on the CPU or a GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor


# Bits per Bernoulli draw (four draws per 32-bit hash).
KEEP_BITS = 8
_MASK32 = 0xFFFFFFFF


def keep_level(density: float) -> int:
    """``round(density * 2^b)``: the quantised keep probability, in units of ``2^-b``."""
    return min(1 << KEEP_BITS, max(0, round(density * (1 << KEEP_BITS))))


def quantized_density(density: float) -> float:
    """The keep probability a mask drawn for ``density`` really has."""
    return keep_level(density) / (1 << KEEP_BITS)


def _mix32(x: Tensor) -> Tensor:
    """lowbias32 on int64 tensors holding values in ``[0, 2^32)`` (in place).

    Products are reduced to their low 32 bits; where an int64 product wraps,
    its low 32 bits are still those of the true product.
    """
    x.bitwise_xor_(x >> 16)
    x.mul_(0x7FEB352D).bitwise_and_(_MASK32)
    x.bitwise_xor_(x >> 15)
    x.mul_(0x846CA68B).bitwise_and_(_MASK32)
    x.bitwise_xor_(x >> 16)
    return x


def hash_words(key: int, first_word: int, count: int, device: torch.device | str = "cpu") -> Tensor:
    """``h`` of words ``first_word .. first_word + count - 1`` as int64 ``[count]`` (values below 2^32)."""
    key_lo, key_hi = key & _MASK32, (key >> 32) & _MASK32
    words = torch.arange(first_word, first_word + count, dtype=torch.int64, device=device)
    high = words >> 32
    x = _mix32(words.bitwise_and_(_MASK32).bitwise_xor_(key_lo))
    x.add_(high).bitwise_and_(_MASK32).bitwise_xor_(key_hi)
    return _mix32(x)


def keep_bytes(key: int, start: int, count: int, device: torch.device | str = "cpu") -> Tensor:
    """The hash bytes ``u`` of entries ``start .. start + count - 1``, int64 ``[count]`` in ``[0, 256)``."""
    first_word = start >> 2
    words = ((start + count + 3) >> 2) - first_word
    hashes = hash_words(key, first_word, words, device)
    shifts = torch.arange(0, 32, 8, dtype=torch.int64, device=device)
    # bytes: [words, 4] -> [4 * words], byte b of word w at 4 * w + b.
    every = (hashes[:, None] >> shifts).bitwise_and_(0xFF).reshape(-1)  # in place: one int64 temporary
    offset = start & 3
    return every[offset : offset + count]


def draw_keep_mask(key: int, start: int, level: int, out: Tensor) -> Tensor:
    """Write the float 0/1 keep mask of entries ``start .. start + m - 1`` into ``out: [m]``.

    Args:
        key: The stream's 64-bit key (:meth:`~mmmo.merge.base.TensorJob.stream_key`).
        start: Index of ``out[0]``'s entry in the flat tensor.
        level: From :func:`keep_level`; entries with a hash byte below it are kept.
        out: Float destination, ``[m]``, on the device the hash is computed on.
    """
    u = keep_bytes(key, start, out.numel(), out.device)
    # For integers, level - u >= 1 iff u < level, and <= 0 otherwise: clamping
    # to [0, 1] gives the mask without a bool tensor.
    out.copy_(u.neg_().add_(level))
    return out.clamp_(0.0, 1.0)
