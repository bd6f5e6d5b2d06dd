"""Model Breadcrumbs: drop both the smallest and the largest (outlier) task-vector entries.

Per tensor and source, with ``n`` entries sorted by ``|delta_k|`` ascending,
mergekit's convention is used: ``target = int(density * n)`` entries are kept,
``int(gamma * n)`` of the largest are removed first (fewer when needed to keep
``target``), the rest are the smallest. ``density`` is the fraction kept;
``gamma`` (default 0.01) the outlier fraction. The kept entries are then added
as in task arithmetic (``normalize`` off by default, ``lambda`` scales).
At ``density = 1`` nothing is dropped, as in mergekit.

References:
    Davari & Belilovsky, "Model Breadcrumbs: Scaling multi-task model merging
    with sparse masks", ECCV 2024.
"""

from __future__ import annotations

from collections.abc import Mapping

from mmmo.errors import MergeError
from mmmo.merge.base import MergeMethod, OptionValue, TensorJob
from mmmo.merge.gta import Keep, generalized_task_arithmetic
from mmmo.plan import MergePlan


def _keeps(job: TensorJob) -> list[Keep]:
    gamma = float(job.options["gamma"])
    keeps = []
    n = job.numel
    for k, density in enumerate(job.densities):
        if density >= 1.0:
            keeps.append(Keep())
            continue
        target = int(density * n)
        if target == 0:
            keeps.append(Keep("between", low=float("inf"), high=0.0))  # keeps nothing
            continue
        bottom = max(0, n - target - int(gamma * n))
        index = job.magnitudes[k]
        low = index.order_statistic(job.deltas[k], bottom, job.scratch, job.chunk)
        high = index.order_statistic(job.deltas[k], bottom + target - 1, job.scratch, job.chunk)
        keeps.append(Keep("between", low=low, high=high))
    return keeps


def merge_breadcrumbs(job: TensorJob) -> None:
    generalized_task_arithmetic(
        job,
        _keeps(job),
        consensus=False,
        normalize=bool(job.options["normalize"]),
        lam=float(job.options["lambda"]),
    )


def _check(plan: MergePlan, options: Mapping[str, OptionValue]) -> None:
    gamma = float(options["gamma"])
    if not 0.0 <= gamma < 1.0:
        raise MergeError(f"breadcrumbs option 'gamma' must be in [0, 1), got {gamma}")


BREADCRUMBS = MergeMethod(
    name="breadcrumbs",
    merge=merge_breadcrumbs,
    defaults={"normalize": False, "lambda": 1.0, "gamma": 0.01},
    mergekit_name="breadcrumbs",
    uses_density=True,
    uses_magnitudes=True,
    check=_check,
)
