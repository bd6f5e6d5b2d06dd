"""mmmo's own proposers, called as a :class:`~mmmo.campaign.Campaign` calls them.

Settings are the campaign's (``Campaign._proposal_inputs``): the free
reference trials that are points of the space (``f.free``) in the history
from the start; the initial design (:class:`~mmmo.search.proposers.design.InitialDesign`:
the centre, then Sobol points of the campaign seed) for the first
:func:`~mmmo.search.proposers.design.design_size` evaluations; then one proposer
instance (its GP hyperparameter cache lives across calls) asked for batches
of ``batch_size`` (the demo's 1) with the full history, nothing pending, each
score's binomial variance (``Yvar``), and the campaign's reference
point (inferred from the base and expert scores). Every method sees exactly
the points it paid for and the free ones.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from peers.budget import BudgetExhausted, EvaluationBudget

__all__ = ["binomial_variance", "run_mmmo"]


def binomial_variance(Y: torch.Tensor, n: int | None) -> torch.Tensor | None:
    """Each accuracy's observation variance over ``n`` examples, as a campaign gets it from its objectives.

    The objectives report the sample standard error of their 0/1 scores
    (:func:`~mmmo.objectives.stats.mean_and_stderr`); its square is
    ``p (1 - p) / (n - 1)``, and :func:`~mmmo.search.noise.observation_variance`
    turns an all-equal sample into its Agresti-Coull variance. ``None`` when
    ``n`` is unknown (no noise given, as for a user's callable).
    """
    from mmmo.objectives.base import Measurement
    from mmmo.search.noise import observation_variance

    if n is None or n < 2:
        return None
    out = torch.full_like(Y, math.nan)
    for index, p in np.ndenumerate(Y.numpy()):
        if math.isfinite(p):
            stderr = math.sqrt(max(p * (1.0 - p), 0.0) / (n - 1))
            out[index] = observation_variance(Measurement(value=float(p), stderr=stderr, n=n))
    return out


def run_mmmo(
    f: EvaluationBudget,
    proposer_name: str,
    dim: int,
    num_objectives: int,
    initial: int,
    seed: int,
    ref_point: np.ndarray | None,
    batch_size: int = 1,
    categorical: dict[int, tuple[float, ...]] | None = None,
    anchors: np.ndarray | None = None,
    examples: int | None = None,
    design: str = "subsets",
    count_free: bool = True,
    **options,
) -> None:
    """Spend ``f``'s budget with mmmo's ``proposer_name`` (``qlognehvi``, ``qlognparego``, ``sobol``, ``random``).

    ``anchors``: the design's points after the centre (a campaign's: the
    sources' subset merges). ``examples``: test examples per objective (each
    score's noise). ``design`` (``subsets``: the campaign's; ``centre``: the
    centre then Sobol; ``sobol``: Sobol points only) and ``count_free``
    (free points count toward the initial design) are the campaign's choices,
    switchable to measure what each is worth. ``options`` go to the
    model-based proposer (e.g. ``num_restarts``, ``observation_noise``); none
    by default, as in a campaign. Each score's variance is passed as a
    campaign passes it; the proposer decides whether to use it.
    """
    from mmmo.search.proposers.design import InitialDesign, design_size
    from mmmo.search.proposers import make_proposer
    from mmmo.search.proposers.base import accepts_noise

    searches = proposer_name not in ("sobol", "random")
    if searches:
        if design == "sobol":
            opener = make_proposer("sobol", seed=seed)
        else:  # "centre": the centre, then Sobol; "subsets": the campaign's, the centre, ``anchors``, then Sobol
            opener = InitialDesign(seed=seed, categorical=categorical, anchors=anchors if design == "subsets" else None,
                                   ties=options.get("ties"))
    else:
        opener = make_proposer(proposer_name, seed=seed)
    proposer = make_proposer(proposer_name, seed=seed, categorical=categorical, **(options if searches else {}))
    ref = None if ref_point is None else torch.as_tensor(ref_point, dtype=torch.float64)
    free_X, free_Y = f.free.in_space(dim) if f.free is not None else (np.zeros((0, dim)), np.zeros((0, num_objectives)))
    planned = 1 + (0 if anchors is None or design != "subsets" else len(anchors))
    n_design = design_size(initial, len(free_X) if count_free else 0, planned) if searches else initial
    try:
        while f.remaining > 0:
            X = torch.tensor(np.concatenate([free_X, np.asarray(f.trace.X).reshape(-1, dim)]), dtype=torch.float64)
            Y = torch.tensor(np.concatenate([free_Y, np.asarray(f.trace.Y).reshape(-1, num_objectives)]),
                             dtype=torch.float64)
            modelled = int(torch.isfinite(Y).all(dim=-1).sum())
            use_design = f.used < n_design or (searches and modelled < 2)
            chosen = opener if use_design else proposer
            n = min(batch_size, f.remaining, n_design - f.used) if f.used < n_design else min(batch_size, f.remaining)
            Yvar = binomial_variance(Y, examples) if not use_design and accepts_noise(chosen) else None
            extra = {"Yvar": Yvar} if Yvar is not None else {}
            candidates = chosen.propose(X, Y, torch.zeros(0, dim, dtype=torch.float64), n, ref, **extra)  # n x d
            for x in candidates:
                f(x.tolist())
    except BudgetExhausted:
        pass
