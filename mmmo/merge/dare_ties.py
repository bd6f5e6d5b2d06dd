"""DARE-TIES: DARE's random dropping and rescaling, then TIES' sign election.

Dropping and rescaling as in :mod:`mmmo.merge.dare_linear` (keep probability
``density`` quantised to ``1 / 256``, survivors divided by that probability
when ``rescale``, default on);
sign election and the optional per-entry normalisation as in
:mod:`mmmo.merge.ties`. Defaults follow mergekit: ``normalize`` off,
``rescale`` on.

References:
    Yu et al., "Language models are Super Mario", ICML 2024.
    Yadav et al., "TIES-Merging", NeurIPS 2023.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmmo.merge.base import MergeMethod, TensorJob
from mmmo.merge.gta import dare_terms, generalized_task_arithmetic, merge_from_weights_if_taken


def merge_dare_ties(job: TensorJob) -> None:
    generalized_task_arithmetic(job, **dare_terms(job, consensus=True))


def merge_dare_ties_from_weights(job: TensorJob, from_weights: Sequence[bool]) -> bool:
    """Merge a job whose ``deltas[k]`` are source weights where ``from_weights[k]`` with the C
    kernel (same masks: they are keyed by seed, tensor, source and position); False where it cannot."""
    return merge_from_weights_if_taken(job, from_weights, **dare_terms(job, consensus=True))


DARE_TIES = MergeMethod(
    name="dare_ties",
    merge=merge_dare_ties,
    defaults={"normalize": False, "rescale": True, "lambda": 1.0},
    mergekit_name="dare_ties",
    uses_density=True,
)
