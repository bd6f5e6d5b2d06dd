"""Generalized task arithmetic: the shared kernel of task arithmetic, TIES, DARE, DELLA, Breadcrumbs.

For one tensor with base ``b: [n]`` and task vectors ``delta_k: [n]``::

    tau_k  = w_k * keep_k(delta_k)                 # sparsified, weighted, maybe rescaled
    merged = b + lambda * sum_k(sel_k * tau_k) / divisor

where ``sel_k`` is 1 everywhere without sign consensus, and with TIES' sign
election (mergekit's ``sum`` consensus) is 1 where ``tau_k`` has the sign
``e`` of ``sum_k tau_k`` (ties to the positive side). ``divisor`` is 1 unless
``normalize``: then it is ``sum_k w_k`` without consensus, and the per-entry
``sum_k w_k * sel_k`` with it (0 replaced by 1), as in mergekit.

The agreeing sum is computed as ``e * sum_k |c_k| * relu(h_k * e * sign(c_k))``
with ``tau_k = c_k * h_k``: the same numbers as masking by sign, in fewer
passes. Work proceeds in chunks of ``job.chunk`` entries, so each task vector
is read from memory once per trial and the dozen elementwise passes over it
run on cache-resident scratch; nothing is allocated after the first trial.
Masks are float 0/1 tensors built with float ops only: on CPUs, comparisons
into bool tensors, bool-float products and ``masked_fill_`` cost several
times an elementwise float op.

Arithmetic is float32 whatever the tensors' dtypes (see :mod:`mmmo.merge.base`):
the torch path widens 16-bit chunks into work buffers and rounds each merged
chunk once into ``job.out``.

On the CPU the one-pass C kernel merges instead (:mod:`mmmo.merge.native`):
each entry of the base and the task vectors is read once and the merged entry
written once, with the same keep rules and masks. Contiguous float32 and
bfloat16 tensors go to it whole (it widens bfloat16 itself); float16 ones go
chunk by chunk, widened to float32 first. Given the sources' weights rather
than their task vectors (:func:`merge_from_weights`), the kernel forms each
task vector on the stack, block by block. The torch path is the fallback for
GPUs, keep rules the kernel lacks, and machines without the kernel.

On a GPU every work buffer is one chunk long (``job.chunk``, sized by the
merger to a memory budget), so no ``K x n`` intermediate is ever formed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mmmo.merge import native
from mmmo.merge.base import STREAM_CHUNK, TensorJob
from mmmo.merge.random_keep import draw_keep_mask, keep_level, quantized_density


@dataclass(frozen=True)
class Keep:
    """Which entries of one source's task vector survive, and their scale.

    Attributes:
        kind: ``all``; ``above`` (``|delta| >= low``); ``between``
            (``low <= |delta| <= high``); ``bernoulli`` (kept with probability
            ``prob``); ``probs`` (kept with per-entry probability ``probs``).
        low, high: Magnitude bounds of ``above`` / ``between``.
        prob: Keep probability of ``bernoulli``.
        probs: Flat ``[n]`` keep probabilities of ``probs``.
        rescale: Divide kept entries by their keep probability (unbiased).
    """

    kind: str = "all"
    low: float = 0.0
    high: float = float("inf")
    prob: float = 1.0
    probs: Tensor | None = None
    rescale: bool = False

    @property
    def random(self) -> bool:
        return self.kind in ("bernoulli", "probs")


@functools.lru_cache(maxsize=256)  # called per chunk with the same few thresholds
def _below(value: float, dtype: torch.dtype) -> float:
    """The largest ``dtype`` number below ``value`` (so ``|x| > it`` means ``|x| >= value``)."""
    here = torch.tensor(value, dtype=dtype)
    return float(torch.nextafter(here, torch.tensor(-math.inf, dtype=dtype)))


def _coefficient(job: TensorJob, k: int, keep: Keep) -> float:
    """``c_k``: the weight, divided by the keep probability of a rescaled Bernoulli keep."""
    weight = job.params[k].weight
    if keep.kind == "bernoulli" and keep.rescale and keep_level(keep.prob) > 0:
        return weight / quantized_density(keep.prob)
    return weight


def _kept(
    job: TensorJob, k: int, keep: Keep, start: int, stop: int, out: Tensor, generator: torch.Generator | None
) -> tuple[Tensor, float]:
    """``(h, c)`` with ``c * h = w_k * keep_k(delta_k[start:stop])`` in the compute dtype.

    ``h`` may be ``delta_k``'s own view, or its widened copy in scratch.
    """
    delta = job.read(job.deltas[k], start, stop, "delta")
    weight = job.params[k].weight
    if keep.kind == "all":
        return delta, weight
    if keep.kind == "above":
        torch.ops.aten.hardshrink.out(delta, _below(keep.low, delta.dtype), out=out)
        return out, weight
    if keep.kind == "between":
        # Zero |delta| < low, then subtract what is left above high.
        torch.ops.aten.hardshrink.out(delta, _below(keep.low, delta.dtype), out=out)
        above = job.scratch.get("keep_above", stop - start, out.dtype)
        torch.ops.aten.hardshrink.out(out, keep.high, out=above)
        return out.sub_(above), weight
    if keep.kind == "bernoulli":
        level = keep_level(keep.prob)
        if level == 0:
            return out.zero_(), weight
        mask = job.scratch.get("keep_mask", stop - start, out.dtype)
        draw_keep_mask(job.stream_key(k), job.offset + start, level, mask)
        torch.mul(delta, mask, out=out)
        return out, _coefficient(job, k, keep)
    if keep.kind == "probs":
        probs = keep.probs[start:stop]
        mask = job.scratch.get("keep_mask", stop - start, torch.bool)
        torch.rand(stop - start, generator=generator, out=out, dtype=out.dtype, device=out.device)
        torch.lt(out, probs, out=mask)
        if keep.rescale:
            torch.div(delta, probs, out=out)
            out.mul_(mask)
        else:
            torch.mul(delta, mask, out=out)
        return out, weight
    raise ValueError(f"unknown keep kind {keep.kind!r}")


def _generators(job: TensorJob, keeps: Sequence[Keep]) -> list[torch.Generator | None]:
    return [job.generator(k) if keep.kind == "probs" else None for k, keep in enumerate(keeps)]


def _weighted_sum(job: TensorJob, keeps: Sequence[Keep], normalize: bool, lam: float) -> None:
    """``out = base + lambda * sum_k tau_k / divisor`` with a scalar divisor."""
    generators = _generators(job, keeps)
    total = sum(job.weights)
    scale = lam / (total if normalize and abs(total) >= 1e-8 else 1.0)
    for start, stop in job.chunks(STREAM_CHUNK):
        out = job.accumulator(start, stop)
        out.copy_(job.base[start:stop])
        buffer = job.scratch.get("kept0", stop - start, out.dtype)
        for k, keep in enumerate(keeps):
            kept, coefficient = _kept(job, k, keep, start, stop, buffer, generators[k])
            out.add_(kept, alpha=coefficient * scale)
        job.write(out, start, stop)


def _consensus_sum(job: TensorJob, keeps: Sequence[Keep], normalize: bool, lam: float) -> None:
    """``out = base + lambda * (sum of tau_k agreeing with the elected sign) / divisor``.

    The K sources' kept entries of a chunk are stacked as rows of one
    ``[K, m]`` buffer, so each step is one op over all sources, and the sums
    over sources are matrix-vector products (one read of the stack each).
    """
    generators = _generators(job, keeps)
    dtype, device = job.compute_dtype, job.out.device
    k_sources = len(keeps)
    coefficients = signs = None
    for start, stop in job.chunks():
        m = stop - start
        stacked = job.scratch.get("kept", k_sources * m, dtype).view(k_sources, m)
        cs = []
        for k, keep in enumerate(keeps):
            h, c = _kept(job, k, keep, start, stop, stacked[k], generators[k])
            if h.data_ptr() != stacked[k].data_ptr():
                stacked[k].copy_(h)
            cs.append(c)
        if coefficients is None:
            # Per-tensor constants: c_k, |c_k|, sign(c_k) and the weights w_k, shape [K].
            coefficients = torch.tensor(cs, dtype=dtype, device=device)
            signs = coefficients.sign() if any(c < 0 for c in cs) else None
            scales = coefficients.abs()
            weights = torch.tensor(job.weights, dtype=dtype, device=device)
            one = torch.ones((), dtype=dtype, device=device)
        elected = job.scratch.get("elected", m, dtype)
        torch.mv(stacked.T, coefficients, out=elected)
        # elected: [m], the sign of sum_k tau_k as +-1, ties (0) to the positive
        # side. The sum is -0.0 only when every tau_k is 0, and then no source
        # agrees whatever the sign, so copysign's -1 there changes nothing.
        torch.copysign(one, elected, out=elected)
        # stacked: [K, m] -> relu(sign(c_k) * e * h_k), nonzero where tau_k agrees with e.
        stacked.mul_(elected)
        if signs is not None:
            stacked.mul_(signs[:, None])
        stacked.clamp_(min=0)
        agreeing = job.scratch.get("agreeing", m, dtype)
        torch.mv(stacked.T, scales, out=agreeing)
        # agreeing: [m], sum_k |tau_k| over agreeing sources; give it the sign e.
        agreeing.mul_(elected)
        if normalize:
            divisor = job.scratch.get("divisor", m, dtype)
            torch.mv(stacked.sign_().T, weights, out=divisor)
            # Where no source agrees the divisor is 0 (mergekit divides by 1
            # there): add 1 - |sign(divisor)|, which is 1 exactly at 0 and 0 elsewhere.
            torch.sign(divisor, out=elected)
            divisor.sub_(elected.abs_().sub_(1.0))
            agreeing.div_(divisor)
        out = job.accumulator(start, stop)
        torch.add(job.read(job.base, start, stop, "base"), agreeing, alpha=lam, out=out)
        job.write(out, start, stop)


def _kernel_arguments(job: TensorJob, keeps: Sequence[Keep], consensus: bool, normalize: bool, lam: float) -> dict:
    """The kernel's keyword arguments besides its tensors."""
    total = sum(job.weights)
    return dict(
        kinds=[keep.kind for keep in keeps],
        lows=[keep.low for keep in keeps],
        highs=[keep.high for keep in keeps],
        levels=[keep_level(keep.prob) if keep.kind == "bernoulli" else 0 for keep in keeps],
        keys=[job.stream_key(k) if keep.kind == "bernoulli" else 0 for k, keep in enumerate(keeps)],
        coefficients=[_coefficient(job, k, keep) for k, keep in enumerate(keeps)],
        weights=job.weights,
        consensus=consensus,
        normalize=normalize,
        scalar_divisor=total if normalize and abs(total) >= 1e-8 else 1.0,
        lam=lam,
    )


def _native_merge(job: TensorJob, keeps: Sequence[Keep], consensus: bool, normalize: bool, lam: float) -> bool:
    """Merge with the C kernel when it takes this job; return whether it did."""
    if len(keeps) > native.MAX_SOURCES or any(keep.kind not in native.KEEP_CODES for keep in keeps):
        return False
    tensors = (job.base, job.out, *job.deltas)
    whole = native.usable(*tensors, dtypes=native.KERNEL_DTYPES)
    if not whole and not native.usable_widened(*tensors):
        return False
    # The kernel draws random masks four entries per hash word, from an aligned start.
    if any(keep.kind == "bernoulli" for keep in keeps) and (job.offset % 4 or (not whole and job.chunk % 4)):
        return False
    arguments = _kernel_arguments(job, keeps, consensus, normalize, lam)
    if whole:
        native.gta_merge(job.base, job.deltas, out=job.out, offset=job.offset, **arguments)
        return True
    # float16 tensors: widen a cache-sized chunk of each input, merge it, round it into out.
    for start, stop in job.chunks():
        base = job.read(job.base, start, stop, "base")
        deltas = [job.read(d, start, stop, f"delta{k}") for k, d in enumerate(job.deltas)]
        out = job.accumulator(start, stop)
        native.gta_merge(base, deltas, out=out, offset=job.offset + start, **arguments)
        job.write(out, start, stop)
    return True


def kernel_takes_weights(job: TensorJob, keeps: Sequence[Keep]) -> bool:
    """Whether :func:`merge_from_weights` can merge ``job``: the C kernel takes its tensors whole."""
    return (
        len(keeps) <= native.MAX_SOURCES
        and all(keep.kind in native.KEEP_CODES for keep in keeps)
        and not (job.offset % 4 and any(keep.kind == "bernoulli" for keep in keeps))
        and native.usable(job.base, job.out, *job.deltas, dtypes=native.KERNEL_DTYPES)
    )


def merge_from_weights(
    job: TensorJob,
    keeps: Sequence[Keep],
    consensus: bool,
    normalize: bool,
    lam: float,
    from_weights: Sequence[bool],
) -> None:
    """:func:`generalized_task_arithmetic` of a job whose ``deltas[k]`` are source ``k``'s weights
    where ``from_weights[k]`` (task vectors elsewhere), merged by the C kernel.

    The kernel forms each task vector ``f32(weights) - f32(base)`` a block at a
    time in cache, so no float32 task vector is written to memory; the merge
    has the bits of the one given those task vectors. Callers check
    :func:`kernel_takes_weights` first.
    """
    arguments = _kernel_arguments(job, keeps, consensus, normalize, lam)
    native.gta_merge(job.base, job.deltas, out=job.out, offset=job.offset, from_weights=from_weights, **arguments)


def merge_from_weights_if_taken(
    job: TensorJob,
    from_weights: Sequence[bool],
    keeps: Sequence[Keep],
    consensus: bool,
    normalize: bool,
    lam: float,
) -> bool:
    """:func:`merge_from_weights` where :func:`kernel_takes_weights`; return whether it merged.

    The one entry of every method that merges from weights: given its
    generalized-task-arithmetic terms, it merges or leaves ``job`` untouched.
    """
    if not kernel_takes_weights(job, keeps):
        return False
    merge_from_weights(job, keeps, consensus, normalize, lam, from_weights)
    return True


def generalized_task_arithmetic(
    job: TensorJob,
    keeps: Sequence[Keep],
    consensus: bool,
    normalize: bool,
    lam: float,
) -> None:
    """Merge ``job`` into ``job.out`` (see the module docstring for the formula)."""
    if _native_merge(job, keeps, consensus, normalize, lam):
        return
    if consensus:
        _consensus_sum(job, keeps, normalize, lam)
    else:
        _weighted_sum(job, keeps, normalize, lam)


def magnitude_keeps(job: TensorJob) -> list[Keep]:
    """TIES trimming: keep each source's top ``int(density * n)`` entries by ``|delta|``."""
    from mmmo.merge.magnitude import keep_count

    keeps = []
    for k, density in enumerate(job.densities):
        if density >= 1.0:
            keeps.append(Keep())
            continue
        n = job.numel
        rank = n - keep_count(density, n)
        threshold = job.magnitudes[k].order_statistic(job.deltas[k], rank, job.scratch, job.chunk)
        keeps.append(Keep("above", low=threshold))
    return keeps


def bernoulli_keeps(job: TensorJob, rescale: bool) -> list[Keep]:
    """DARE dropping: keep each entry with probability ``density`` (quantised, see :mod:`mmmo.merge.random_keep`)."""
    return [Keep() if d >= 1.0 else Keep("bernoulli", prob=d, rescale=rescale) for d in job.densities]


def dare_terms(job: TensorJob, consensus: bool) -> dict:
    """The generalized-task-arithmetic terms of DARE: Bernoulli keeps, with TIES' sign election if ``consensus``."""
    return dict(
        keeps=bernoulli_keeps(job, rescale=bool(job.options["rescale"])),
        consensus=consensus,
        normalize=bool(job.options["normalize"]),
        lam=float(job.options["lambda"]),
    )
