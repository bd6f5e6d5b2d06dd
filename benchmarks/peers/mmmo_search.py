"""mmmo's own proposers, called as a :class:`~mmmo.campaign.Campaign` calls them.

Settings are the campaign's (``Campaign._propose``): the Sobol design of the
campaign seed for the first ``initial`` points, then one proposer instance
(its GP hyperparameter cache lives across calls) asked for batches of
``batch_size`` (the demo's 1) with the full history, nothing pending, and the
campaign's reference point (inferred from the base and expert scores, which a
campaign evaluates once before its search; here they are evaluated once for
all methods and charged to none). The campaign's reference trials are not put
into the history, so every method sees exactly the points it paid for.
"""

from __future__ import annotations

import numpy as np
import torch

from peers.budget import BudgetExhausted, EvaluationBudget

__all__ = ["run_mmmo"]


def run_mmmo(
    f: EvaluationBudget,
    proposer_name: str,
    dim: int,
    num_objectives: int,
    initial: int,
    seed: int,
    ref_point: np.ndarray | None,
    batch_size: int = 1,
    **options,
) -> None:
    """Spend ``f``'s budget with mmmo's ``proposer_name`` (``qlognehvi``, ``qlognparego``, ``sobol``, ``random``).

    ``options`` go to the model-based proposer (e.g. ``num_restarts``); none by default, as in a campaign.
    """
    from mmmo.search.proposers import make_proposer

    design = make_proposer("sobol" if proposer_name != "random" else "random", seed=seed)
    proposer = make_proposer(proposer_name, seed=seed, **(options if proposer_name not in ("sobol", "random") else {}))
    ref = None if ref_point is None else torch.as_tensor(ref_point, dtype=torch.float64)
    try:
        while f.remaining > 0:
            X = torch.tensor(f.trace.X, dtype=torch.float64).reshape(-1, dim)
            Y = torch.tensor(f.trace.Y, dtype=torch.float64).reshape(X.shape[0], num_objectives)
            modelled = int(torch.isfinite(Y).all(dim=-1).sum())
            use_design = f.used < initial or (proposer_name not in ("sobol", "random") and modelled < 2)
            chosen = design if use_design else proposer
            n = min(batch_size, f.remaining, initial - f.used) if f.used < initial else min(batch_size, f.remaining)
            candidates = chosen.propose(X, Y, torch.zeros(0, dim, dtype=torch.float64), n, ref)  # n x d
            for x in candidates:
                f(x.tolist())
    except BudgetExhausted:
        pass
