"""CMA-ES on the equal-weight sum of the objectives.

The single-objective recipe of evolutionary merging tools: one scalar, the
mean accuracy over tasks, minimised as its negative by ``cma`` with its
default population (``4 + floor(3 ln d)``), a step size of 0.3 inside box
bounds ``[0, 1]``, and the centre of the cube as the start. It has no separate
initial design; if it stops early it restarts with a new seed.

A warm run starts (and restarts) from the free in-space point (``f.free``)
of best mean score instead: CMA-ES takes one start point and no scored
history, and the mean score is the very objective it minimises, so the best
point a campaign already knows is where a user would centre it (a tie goes to
the first in the campaign's order: base, sources, recipes). Restarts keep
that rule, so every restart differs only in its seed, as cold restarts do.

References:
    N. Hansen. The CMA Evolution Strategy: A Tutorial. arXiv:1604.00772.
"""

from __future__ import annotations

import numpy as np

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["run_cmaes", "start_point"]

SIGMA0 = 0.3


def start_point(f: EvaluationBudget, dim: int) -> np.ndarray:
    """The free in-space point of best mean score (``d``); the centre when there is none."""
    free_X, free_Y = f.free.in_space(dim) if f.free is not None else (np.zeros((0, dim)), None)
    if not len(free_X):
        return np.full(dim, 0.5)
    return free_X[int(np.argmax(finite_or_worst(free_Y).mean(axis=1)))].copy()


def run_cmaes(f: EvaluationBudget, dim: int, seed: int) -> None:
    """Spend ``f``'s budget with CMA-ES on ``-mean(accuracies)``."""
    import cma

    x0 = start_point(f, dim)
    restart = 0
    try:
        while f.remaining > 0:
            options = {"bounds": [0.0, 1.0], "seed": seed * 1000 + restart + 1, "verbose": -9}
            strategy = cma.CMAEvolutionStrategy(x0, SIGMA0, options)
            while not strategy.stop() and f.remaining > 0:
                candidates = strategy.ask()
                strategy.tell(candidates, [-float(finite_or_worst(f(x)).mean()) for x in candidates])
            restart += 1
    except BudgetExhausted:
        pass
