"""NSGA-II from pymoo, through its ask-and-tell interface.

pymoo's default population (100) is larger than the whole budget, which would
make it random search; the population is the initial design size instead, so
the first generation is the same number of random points the other methods
start from, and every later generation is ``initial`` offspring.

A warm run hands pymoo its first population (``sampling=`` an array): the
free in-space points (``f.free``), then pymoo's own random sampling up to
``initial`` points (none when there are as many free points). The whole first
population is evaluated through the budget, which already knows the free
points and charges nothing for them, and told back, so NSGA-II's survival
ranks the free points with the rest.

References:
    K. Deb, A. Pratap, S. Agarwal, T. Meyarivan. A Fast and Elitist
    Multiobjective Genetic Algorithm: NSGA-II. IEEE TEVC 2002.
"""

from __future__ import annotations

import numpy as np

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["first_population", "run_pymoo_nsga2"]


def first_population(f: EvaluationBudget, problem, initial: int, seed: int) -> np.ndarray | None:
    """The warm first population (``max(k, initial) x d``: the ``k`` free points, then random).

    ``None`` (pymoo's own random first population) when no free trial is a point of the space.
    """
    from pymoo.operators.sampling.rnd import FloatRandomSampling

    free_X = f.free.in_space(problem.n_var)[0] if f.free is not None else np.zeros((0, problem.n_var))
    if not len(free_X):
        return None
    fill = max(initial - len(free_X), 0)
    if not fill:
        return free_X
    random = FloatRandomSampling().do(problem, fill, random_state=np.random.default_rng(seed)).get("X")  # fill x d
    return np.concatenate([free_X, np.asarray(random).reshape(fill, problem.n_var)])


def run_pymoo_nsga2(f: EvaluationBudget, dim: int, num_objectives: int, initial: int, seed: int) -> None:
    """Spend ``f``'s budget with pymoo's NSGA-II (population ``initial``)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem
    from pymoo.problems.static import StaticProblem

    problem = Problem(n_var=dim, n_obj=num_objectives, xl=np.zeros(dim), xu=np.ones(dim))
    warm = first_population(f, problem, initial, seed)
    algorithm = NSGA2(pop_size=initial) if warm is None else NSGA2(pop_size=initial, sampling=warm)
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
