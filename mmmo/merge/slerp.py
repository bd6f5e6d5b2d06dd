"""SLERP: spherical interpolation between two models, row by row.

The plan has exactly two sources, ``A`` and ``B``; ``t = 0`` gives ``A``'s
weights, ``t = 1`` ``B``'s. ``t`` is the option ``t`` when the plan sets it,
else, per tensor group, ``w_B / (w_A + w_B)`` from the group's weights (so a
search over weights searches ``t`` per group). As in mergekit, each tensor is
interpolated as one flat vector on its great circle, in float32, falling back
to linear interpolation when the two are nearly collinear (``|cos| > 0.9995``).

References:
    Shoemake, "Animating rotation with quaternion curves", SIGGRAPH 1985.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from mmmo.errors import MergeError
from mmmo.merge.base import MergeMethod, OptionValue, TensorJob
from mmmo.plan import MergePlan, SourceParams

DOT_THRESHOLD = 0.9995
EPS = 1e-8


def interpolation_t(params: tuple[SourceParams, ...], options: Mapping[str, OptionValue]) -> float:
    """``t`` of one tensor group: the ``t`` option, else ``w_B / (w_A + w_B)``."""
    if options.get("t") is not None:
        return float(options["t"])
    return params[1].weight / (params[0].weight + params[1].weight)


def merge_slerp(job: TensorJob) -> None:
    t = interpolation_t(job.params, job.options)
    a = (job.base + job.deltas[0]).float().reshape(1, -1)
    b = (job.base + job.deltas[1]).float().reshape(1, -1)
    # shape: 1 x n
    norm_a = torch.linalg.vector_norm(a, dim=1, keepdim=True)
    norm_b = torch.linalg.vector_norm(b, dim=1, keepdim=True)
    norm_a = torch.where(norm_a > EPS, norm_a, 1)
    norm_b = torch.where(norm_b > EPS, norm_b, 1)
    dot = ((a / norm_a) * (b / norm_b)).sum(dim=1, keepdim=True).clamp(-1, 1)
    linear = dot.abs() > DOT_THRESHOLD
    theta = torch.acos(torch.where(linear, 0, dot))
    sin_theta = torch.sin(theta)
    coef_a = torch.where(linear, 1 - t, torch.sin((1 - t) * theta) / sin_theta)
    coef_b = torch.where(linear, t, torch.sin(t * theta) / sin_theta)
    job.out.copy_((coef_a * a + coef_b * b).reshape(-1))


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
