"""NSGA-II from pymoo, through its ask-and-tell interface.

pymoo's default population (100) is larger than the whole budget, which would
make it random search; the population is the initial design size instead, so
the first generation is the same number of random points the other methods
start from, and every later generation is ``initial`` offspring.

References:
    K. Deb, A. Pratap, S. Agarwal, T. Meyarivan. A Fast and Elitist
    Multiobjective Genetic Algorithm: NSGA-II. IEEE TEVC 2002.
"""

from __future__ import annotations

import numpy as np

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["run_pymoo_nsga2"]


def run_pymoo_nsga2(f: EvaluationBudget, dim: int, num_objectives: int, initial: int, seed: int) -> None:
    """Spend ``f``'s budget with pymoo's NSGA-II (population ``initial``)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem
    from pymoo.problems.static import StaticProblem

    problem = Problem(n_var=dim, n_obj=num_objectives, xl=np.zeros(dim), xu=np.ones(dim))
    algorithm = NSGA2(pop_size=initial)
    algorithm.setup(problem, seed=seed, termination=("n_eval", 10**9), verbose=False)
    try:
        while f.remaining > 0:
            population = algorithm.ask()
            # pymoo minimises: negate the accuracies.
            F = np.stack([-finite_or_worst(f(x)) for x in population.get("X")])  # pop x m
            Evaluator().eval(StaticProblem(problem, F=F), population)
            algorithm.tell(infills=population)
    except BudgetExhausted:
        pass
