"""Linear merge ("model soup"): a weighted average of the sources' weights.

``theta = sum_k w_k * theta_k / sum_k w_k`` (``normalize``, the default, as in
mergekit), or ``sum_k w_k * theta_k`` without it. The base enters only through
``theta_k = theta_base + delta_k``; it gets no weight of its own.

References:
    Wortsman et al., "Model soups: averaging weights of multiple fine-tuned
    models improves accuracy without increasing inference time", ICML 2022.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from mmmo.errors import MergeError
from mmmo.merge.base import STREAM_CHUNK, MergeMethod, OptionValue, TensorJob
from mmmo.plan import MergePlan


def merge_linear(job: TensorJob, from_weights: Sequence[bool] | None = None) -> None:
    """``out = base * s + sum_k w_k delta_k``, divided by ``s = sum_k w_k`` when normalizing.

    ``from_weights[k]`` true says ``job.deltas[k]`` holds source ``k``'s weights:
    its task vector is formed a chunk at a time (the reader's float32
    subtraction, so the same bits) and never written whole.
    """
    total = sum(job.weights)
    normalize = bool(job.options["normalize"])
    scale = 1.0 / total if normalize else 1.0
    for start, stop in job.chunks(STREAM_CHUNK):
        out = job.accumulator(start, stop)
        base = job.read(job.base, start, stop, "base")
        if normalize:
            out.copy_(base)
        else:
            out.copy_(base).mul_(total)
        for k, weight in enumerate(job.weights):
            delta = job.deltas[k][start:stop]
            if from_weights is not None and from_weights[k]:
                delta = torch.sub(delta, base, out=job.scratch.get("delta", stop - start, out.dtype))
            # A 16-bit delta is widened inside the op: the sum is formed in out's float32.
            out.add_(delta, alpha=weight * scale)
        job.write(out, start, stop)


def merge_linear_from_weights(job: TensorJob, from_weights: Sequence[bool]) -> bool:
    """:func:`merge_linear` of a job whose ``deltas[k]`` are weights where ``from_weights[k]``."""
    merge_linear(job, from_weights)
    return True


def _check(plan: MergePlan, options: Mapping[str, OptionValue]) -> None:
    if not options["normalize"]:
        return
    for group, per_source in plan.params.items():
        if abs(sum(p.weight for p in per_source)) < 1e-8:
            raise MergeError(f"linear merge with normalize: weights of group {group!r} sum to zero")


LINEAR = MergeMethod(
    name="linear",
    merge=merge_linear,
    defaults={"normalize": True},
    mergekit_name="linear",
    check=_check,
)
