"""TIES merging: trim each task vector by magnitude, elect signs, average the agreeing entries.

Per tensor and source, the top ``k = max(1, int(density * n))`` entries by
``|delta_k|`` are kept (``density`` is the fraction kept, as in mergekit; the
paper's ``k%``). Entries tied with the k-th magnitude are all kept; with
float weights such ties are the zeros, which contribute nothing. The elected
sign is that of ``sum_k w_k * trimmed_k`` (mergekit's ``sum`` consensus, the
paper's "mass" election). With ``normalize`` (default on, as in mergekit) the
sum of agreeing weighted entries is divided per entry by the sum of the
agreeing sources' weights — the paper's disjoint mean when all weights are 1.
No rescaling after trimming (mergekit's default; its ``rescale`` is not offered).

References:
    Yadav et al., "TIES-Merging: Resolving interference when merging models",
    NeurIPS 2023.
"""

from __future__ import annotations

from mmmo.merge.base import MergeMethod, TensorJob
from mmmo.merge.gta import generalized_task_arithmetic, magnitude_keeps


def merge_ties(job: TensorJob) -> None:
    generalized_task_arithmetic(
        job,
        magnitude_keeps(job),
        consensus=True,
        normalize=bool(job.options["normalize"]),
        lam=float(job.options["lambda"]),
    )


TIES = MergeMethod(
    name="ties",
    merge=merge_ties,
    defaults={"normalize": True, "lambda": 1.0},
    mergekit_name="ties",
    uses_density=True,
    uses_magnitudes=True,
)
