"""Linear merge ("model soup"): a weighted average of the sources' weights.

``theta = sum_k w_k * theta_k / sum_k w_k`` (``normalize``, the default, as in
mergekit), or ``sum_k w_k * theta_k`` without it. The base enters only through
``theta_k = theta_base + delta_k``; it gets no weight of its own.

References:
    Wortsman et al., "Model soups: averaging weights of multiple fine-tuned
    models improves accuracy without increasing inference time", ICML 2022.
"""

from __future__ import annotations

from collections.abc import Mapping

from mmmo.errors import MergeError
from mmmo.merge.base import STREAM_CHUNK, MergeMethod, OptionValue, TensorJob
from mmmo.plan import MergePlan


def merge_linear(job: TensorJob) -> None:
    """``out = base * s + sum_k w_k delta_k``, divided by ``s = sum_k w_k`` when normalizing."""
    total = sum(job.weights)
    normalize = bool(job.options["normalize"])
    scale = 1.0 / total if normalize else 1.0
    for start, stop in job.chunks(STREAM_CHUNK):
        out = job.accumulator(start, stop)
        base = job.base[start:stop]
        if normalize:
            out.copy_(base)
        else:
            out.copy_(base).mul_(total)
        for k, weight in enumerate(job.weights):
            # A 16-bit delta is widened inside the op: the sum is formed in out's float32.
            out.add_(job.deltas[k][start:stop], alpha=weight * scale)
        job.write(out, start, stop)


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
