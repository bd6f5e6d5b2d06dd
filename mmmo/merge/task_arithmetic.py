"""Task arithmetic: add weighted task vectors to the base.

``theta = theta_base + lambda * sum_k w_k * delta_k`` (divided by
``sum_k w_k`` when ``normalize``; default off, as in mergekit).

References:
    Ilharco et al., "Editing models with task arithmetic", ICLR 2023.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmmo.merge.base import MergeMethod, TensorJob
from mmmo.merge.gta import Keep, generalized_task_arithmetic, merge_from_weights_if_taken


def task_arithmetic_terms(job: TensorJob) -> dict:
    """The generalized-task-arithmetic terms of task arithmetic: every entry kept, no consensus."""
    return dict(
        keeps=[Keep()] * len(job.deltas),
        consensus=False,
        normalize=bool(job.options["normalize"]),
        lam=float(job.options["lambda"]),
    )


def merge_task_arithmetic(job: TensorJob) -> None:
    generalized_task_arithmetic(job, **task_arithmetic_terms(job))


def merge_task_arithmetic_from_weights(job: TensorJob, from_weights: Sequence[bool]) -> bool:
    """Merge a job whose ``deltas[k]`` are source weights where ``from_weights[k]`` with the C
    kernel, which forms the task vectors in cache; return False (nothing done) where it cannot."""
    return merge_from_weights_if_taken(job, from_weights, **task_arithmetic_terms(job))


TASK_ARITHMETIC = MergeMethod(
    name="task_arithmetic",
    merge=merge_task_arithmetic,
    defaults={"normalize": False, "lambda": 1.0},
    mergekit_name="task_arithmetic",
)
