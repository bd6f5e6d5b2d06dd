"""DARE (linear): drop task-vector entries at random, rescale the survivors, add.

Each entry of ``delta_k`` is kept with probability ``density`` (the paper's
drop rate ``p`` is ``1 - density``), quantised to a multiple of ``1 / 256``
(see :mod:`mmmo.merge.random_keep`: masks are drawn as random bytes). With
``rescale`` (default on) survivors are divided by that quantised keep
probability, the paper's ``1 / (1 - p)``, so the expected merge equals task
arithmetic exactly. mergekit instead rescales each masked tensor to the
original's L1 norm; both keep the expected value, ours without a reduction per
tensor. Masks come from one generator per (plan seed, tensor name, source
position) on the merge device: a plan merges to the same bits on the same
device, whatever the chunk size (for multiples of 8).

References:
    Yu et al., "Language models are Super Mario: Absorbing abilities from
    homologous models as a free lunch", ICML 2024.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmmo.merge.base import MergeMethod, TensorJob
from mmmo.merge.gta import dare_terms, generalized_task_arithmetic, merge_from_weights_if_taken


def merge_dare_linear(job: TensorJob) -> None:
    generalized_task_arithmetic(job, **dare_terms(job, consensus=False))


def merge_dare_linear_from_weights(job: TensorJob, from_weights: Sequence[bool]) -> bool:
    """Merge a job whose ``deltas[k]`` are source weights where ``from_weights[k]`` with the C
    kernel (same masks: they are keyed by seed, tensor, source and position); False where it cannot."""
    return merge_from_weights_if_taken(job, from_weights, **dare_terms(job, consensus=False))


DARE_LINEAR = MergeMethod(
    name="dare_linear",
    merge=merge_dare_linear,
    defaults={"normalize": False, "rescale": True, "lambda": 1.0},
    mergekit_name="dare_linear",
    uses_density=True,
)
