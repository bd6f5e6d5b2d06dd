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
passes. Work proceeds in chunks of ``job.chunk`` entries so scratch stays
small and cache-resident; nothing is allocated after the first trial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mmmo.merge.base import TensorJob


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


def _below(value: float, dtype: torch.dtype) -> float:
    """The largest ``dtype`` number below ``value`` (so ``|x| > it`` means ``|x| >= value``)."""
    here = torch.tensor(value, dtype=dtype)
    return float(torch.nextafter(here, torch.tensor(-math.inf, dtype=dtype)))


def _kept(
    job: TensorJob, k: int, keep: Keep, start: int, stop: int, out: Tensor, generator: torch.Generator | None
) -> tuple[Tensor, float]:
    """``(h, c)`` with ``c * h = w_k * keep_k(delta_k[start:stop])``; ``h`` may be ``delta_k`` itself."""
    delta = job.deltas[k][start:stop]
    weight = job.params[k].weight
    m = stop - start
    if keep.kind == "all":
        return delta, weight
    if keep.kind == "above":
        torch.ops.aten.hardshrink.out(delta, _below(keep.low, delta.dtype), out=out)
        return out, weight
    mask = job.scratch.get("keep_mask", m, torch.bool)
    if keep.kind == "between":
        torch.abs(delta, out=out)
        high = job.scratch.get("keep_high", m, torch.bool)
        torch.ge(out, keep.low, out=mask)
        torch.le(out, keep.high, out=high)
        mask.logical_and_(high)
        torch.mul(delta, mask, out=out)
        return out, weight
    torch.rand(m, generator=generator, out=out, dtype=out.dtype, device=out.device)
    if keep.kind == "bernoulli":
        torch.lt(out, keep.prob, out=mask)
        torch.mul(delta, mask, out=out)
        return out, weight / keep.prob if keep.rescale else weight
    if keep.kind == "probs":
        probs = keep.probs[start:stop]
        torch.lt(out, probs, out=mask)
        if keep.rescale:
            torch.div(delta, probs, out=out)
            out.mul_(mask)
        else:
            torch.mul(delta, mask, out=out)
        return out, weight
    raise ValueError(f"unknown keep kind {keep.kind!r}")


def generalized_task_arithmetic(
    job: TensorJob,
    keeps: Sequence[Keep],
    consensus: bool,
    normalize: bool,
    lam: float,
) -> None:
    """Merge ``job`` into ``job.out`` (see the module docstring for the formula)."""
    generator = job.generator() if any(keep.random for keep in keeps) else None
    weights = job.weights
    dtype = job.out.dtype
    if not consensus:
        total = sum(weights)
        scale = lam / (total if normalize and abs(total) >= 1e-8 else 1.0)
        for start, stop in job.chunks():
            out = job.out[start:stop]
            out.copy_(job.base[start:stop])
            for k, keep in enumerate(keeps):
                buffer = job.scratch.get("kept0", stop - start, dtype)
                kept, coefficient = _kept(job, k, keep, start, stop, buffer, generator)
                out.add_(kept, alpha=coefficient * scale)
        return

    for start, stop in job.chunks():
        m = stop - start
        kept = []
        elected = job.scratch.get("elected", m, dtype)
        for k, keep in enumerate(keeps):
            h, c = _kept(job, k, keep, start, stop, job.scratch.get(f"kept{k}", m, dtype), generator)
            kept.append((h, c))
            if k == 0:
                torch.mul(h, c, out=elected)
            else:
                elected.add_(h, alpha=c)
        # elected: [m], the sign of sum_k tau_k as +-1 (zero counts as positive).
        positive = job.scratch.get("positive", m, torch.bool)
        torch.ge(elected, 0, out=positive)
        torch.mul(positive, 2.0, out=elected).sub_(1.0)
        agreeing = job.scratch.get("agreeing", m, dtype)
        agreeing.zero_()
        part = job.scratch.get("part", m, dtype)
        divisor = job.scratch.get("divisor", m, dtype) if normalize else None
        if divisor is not None:
            divisor.zero_()
        for k, (h, c) in enumerate(kept):
            torch.mul(h, elected, out=part)
            if c < 0:
                part.neg_()
            part.clamp_(min=0)
            agreeing.add_(part, alpha=abs(c))
            if divisor is not None:
                divisor.add_(part.sign_(), alpha=weights[k])
        agreeing.mul_(elected)
        if divisor is not None:
            divisor.masked_fill_(divisor == 0, 1.0)
            agreeing.div_(divisor)
        torch.add(job.base[start:stop], agreeing, alpha=lam, out=job.out[start:stop])


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
    """DARE dropping: keep each entry with probability ``density``."""
    return [Keep() if d >= 1.0 else Keep("bernoulli", prob=d, rescale=rescale) for d in job.densities]
