"""CMA-ES on the equal-weight sum of the objectives.

The single-objective recipe of evolutionary merging tools: one scalar, the
mean accuracy over tasks, minimised as its negative by ``cma`` with its
default population (``4 + floor(3 ln d)``), the centre of the cube as the
start and a step size of 0.3 inside box bounds ``[0, 1]``. It has no separate
initial design; if it stops early it restarts with a new seed.

References:
    N. Hansen. The CMA Evolution Strategy: A Tutorial. arXiv:1604.00772.
"""

from __future__ import annotations

import numpy as np

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["run_cmaes"]

SIGMA0 = 0.3


def run_cmaes(f: EvaluationBudget, dim: int, seed: int) -> None:
    """Spend ``f``'s budget with CMA-ES on ``-mean(accuracies)``."""
    import cma

    restart = 0
    try:
        while f.remaining > 0:
            options = {"bounds": [0.0, 1.0], "seed": seed * 1000 + restart + 1, "verbose": -9}
            strategy = cma.CMAEvolutionStrategy(np.full(dim, 0.5), SIGMA0, options)
            while not strategy.stop() and f.remaining > 0:
                candidates = strategy.ask()
                strategy.tell(candidates, [-float(finite_or_worst(f(x)).mean()) for x in candidates])
            restart += 1
    except BudgetExhausted:
        pass
