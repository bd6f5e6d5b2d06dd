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

from mmmo.merge.base import MergeMethod, TensorJob
from mmmo.merge.gta import bernoulli_keeps, generalized_task_arithmetic


def merge_dare_ties(job: TensorJob) -> None:
    generalized_task_arithmetic(
        job,
        bernoulli_keeps(job, rescale=bool(job.options["rescale"])),
        consensus=True,
        normalize=bool(job.options["normalize"]),
        lam=float(job.options["lambda"]),
    )


DARE_TIES = MergeMethod(
    name="dare_ties",
    merge=merge_dare_ties,
    defaults={"normalize": False, "rescale": True, "lambda": 1.0},
    mergekit_name="dare_ties",
    uses_density=True,
)
