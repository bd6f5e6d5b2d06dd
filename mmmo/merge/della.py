"""DELLA: magnitude-aware random dropping (MagPrune), then TIES' sign election.

Within each row of ``delta_k`` (a 1-D tensor is one row), entries are ranked
by ``|delta|`` ascending and rank-normalised to ``r in [0, 1]``; an entry is
kept with probability ``p = density - epsilon + 2 * epsilon * r``, so larger
entries survive more often and the mean keep rate is ``density``. With
``rescale`` (default on) survivors are divided by their own ``p``, the paper's
per-entry ``1 / (1 - p_drop)``; mergekit instead rescales to the original L1
norm. Sign election and per-entry normalisation (default on) follow
:mod:`mmmo.merge.ties`, as in mergekit's ``della``. ``density +- epsilon`` must
lie in (0, 1). The row ranks are recomputed per trial (argsort per row).
Masks are seeded per (plan seed, tensor name), like DARE's.

References:
    Deep et al., "DELLA-Merging: Reducing interference in model merging
    through magnitude-based sampling", arXiv:2406.11617, 2024.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from mmmo.errors import MergeError
from mmmo.merge.base import MergeMethod, OptionValue, TensorJob
from mmmo.merge.gta import Keep, generalized_task_arithmetic
from mmmo.plan import MergePlan


def keep_probabilities(delta: Tensor, shape: torch.Size, density: float, epsilon: float) -> Tensor:
    """Per-entry keep probabilities ``[n]`` of MagPrune for a flat task vector ``[n]``.

    They are float32 (float64 for a float64 delta), whatever the delta's dtype.

    Ranks come from a stable sort, so entries of equal magnitude (frequent in
    16-bit task vectors) rank by position, the same on every run and device.
    """
    dtype = torch.float64 if delta.dtype == torch.float64 else torch.float32
    rows = delta.reshape(shape[0], -1) if len(shape) >= 2 else delta.reshape(1, -1)
    # shape: rows x cols
    cols = rows.shape[1]
    if cols == 1:
        return torch.full(delta.shape, density, dtype=dtype, device=delta.device)
    ranks = rows.abs().argsort(dim=1, stable=True).argsort(dim=1, stable=True).to(dtype)
    ranks.div_(cols - 1)
    return ranks.mul_(2 * epsilon).add_(density - epsilon).reshape(-1)


def merge_della(job: TensorJob) -> None:
    epsilon = float(job.options["epsilon"])
    rescale = bool(job.options["rescale"])
    keeps = [
        Keep()
        if density >= 1.0
        else Keep("probs", probs=keep_probabilities(job.deltas[k], job.shape, density, epsilon), rescale=rescale)
        for k, density in enumerate(job.densities)
    ]
    generalized_task_arithmetic(
        job, keeps, consensus=True, normalize=bool(job.options["normalize"]), lam=float(job.options["lambda"])
    )


def _check(plan: MergePlan, options: Mapping[str, OptionValue]) -> None:
    epsilon = float(options["epsilon"])
    if epsilon < 0:
        raise MergeError(f"della option 'epsilon' must be >= 0, got {epsilon}")
    for group, per_source in plan.params.items():
        for source, params in zip(plan.sources, per_source):
            d = params.density
            if d < 1.0 and not (0.0 < d - epsilon and d + epsilon < 1.0):
                raise MergeError(
                    f"della: source {source!r} in group {group!r} has density {d}; with epsilon "
                    f"{epsilon}, density +- epsilon must lie in (0, 1)"
                )


DELLA = MergeMethod(
    name="della",
    merge=merge_della,
    defaults={"normalize": True, "rescale": True, "lambda": 1.0, "epsilon": 0.15},
    mergekit_name="della",
    uses_density=True,
    check=_check,
)
