"""SLERP: spherical interpolation between two models, row by row.

The plan has exactly two sources, ``A`` and ``B``; ``t = 0`` gives ``A``'s
weights, ``t = 1`` ``B``'s. ``t`` is the option ``t`` when the plan sets it,
else, per tensor group, ``w_B / (w_A + w_B)`` from the group's weights (so a
search over weights searches ``t`` per group). As in mergekit, each tensor is
interpolated as one flat vector on its great circle, in float32 (its norms and
dot product summed chunk by chunk in float64), falling back to linear
interpolation when the two are nearly collinear (``|cos| > 0.9995``).

References:
    Shoemake, "Animating rotation with quaternion curves", SIGGRAPH 1985.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from mmmo.errors import MergeError
from mmmo.merge.base import STREAM_CHUNK, MergeMethod, OptionValue, TensorJob
from mmmo.plan import MergePlan, SourceParams

DOT_THRESHOLD = 0.9995
EPS = 1e-8


def interpolation_t(params: tuple[SourceParams, ...], options: Mapping[str, OptionValue]) -> float:
    """``t`` of one tensor group: the ``t`` option, else ``w_B / (w_A + w_B)``."""
    if options.get("t") is not None:
        return float(options["t"])
    return params[1].weight / (params[0].weight + params[1].weight)


def merge_slerp(job: TensorJob) -> None:
    """Two passes over chunks: the norms and dot product of ``A`` and ``B``, then ``c_A * A + c_B * B``."""
    t = interpolation_t(job.params, job.options)
    device = job.base.device
    # sums: [|A|^2, |B|^2, A.B], float32 products summed in float64.
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    for start, stop in job.chunks(STREAM_CHUNK):
        a, b = _endpoints(job, start, stop)
        sums += torch.stack([torch.dot(a, a), torch.dot(b, b), torch.dot(a, b)]).double()
    norm_a, norm_b, product = sums.tolist()
    norm_a, norm_b = math.sqrt(norm_a), math.sqrt(norm_b)
    norm_a = norm_a if norm_a > EPS else 1.0
    norm_b = norm_b if norm_b > EPS else 1.0
    dot = min(max(product / (norm_a * norm_b), -1.0), 1.0)
    if abs(dot) > DOT_THRESHOLD:
        coef_a, coef_b = 1 - t, t
    else:
        theta = math.acos(dot)
        coef_a = math.sin((1 - t) * theta) / math.sin(theta)
        coef_b = math.sin(t * theta) / math.sin(theta)
    for start, stop in job.chunks(STREAM_CHUNK):
        a, b = _endpoints(job, start, stop)
        out = job.accumulator(start, stop)
        torch.add(a.mul_(coef_a), b, alpha=coef_b, out=out)
        job.write(out, start, stop)


def _endpoints(job: TensorJob, start: int, stop: int) -> tuple[Tensor, Tensor]:
    """``A = base + delta_0`` and ``B = base + delta_1`` over ``[start, stop)``, in the compute dtype."""
    base = job.read(job.base, start, stop, "base")
    a = job.scratch.get("slerp_a", stop - start, job.compute_dtype)
    b = job.scratch.get("slerp_b", stop - start, job.compute_dtype)
    torch.add(base, job.deltas[0][start:stop], out=a)
    torch.add(base, job.deltas[1][start:stop], out=b)
    return a, b


def _check(plan: MergePlan, options: Mapping[str, OptionValue]) -> None:
    for group, params in plan.params.items():
        if "t" not in options:
            if params[0].weight < 0 or params[1].weight < 0 or params[0].weight + params[1].weight <= 0:
                raise MergeError(
                    f"slerp: group {group!r} needs non-negative weights with a positive sum "
                    f"(t = w_B / (w_A + w_B)), got {[p.weight for p in params]}"
                )
        t = interpolation_t(params, options)
        if not 0.0 <= t <= 1.0:
            raise MergeError(f"slerp: t must be in [0, 1], got {t} for group {group!r}")


SLERP = MergeMethod(
    name="slerp",
    merge=merge_slerp,
    defaults={"t": None},
    mergekit_name="slerp",
    min_sources=2,
    max_sources=2,
    check=_check,
)
