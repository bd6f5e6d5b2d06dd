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

from mmmo.merge.base import MergeMethod, TensorJob
from mmmo.merge.gta import bernoulli_keeps, generalized_task_arithmetic


def merge_dare_linear(job: TensorJob) -> None:
    generalized_task_arithmetic(
        job,
        bernoulli_keeps(job, rescale=bool(job.options["rescale"])),
        consensus=False,
        normalize=bool(job.options["normalize"]),
        lam=float(job.options["lambda"]),
    )


DARE_LINEAR = MergeMethod(
    name="dare_linear",
    merge=merge_dare_linear,
    defaults={"normalize": False, "rescale": True, "lambda": 1.0},
    mergekit_name="dare_linear",
    uses_density=True,
)
