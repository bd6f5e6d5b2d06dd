"""Adapters that run each benchmarked optimiser under one :class:`EvaluationBudget`.

Every adapter takes the budget (a function of a unit-cube point that returns
the ``m`` accuracies, larger is better) and spends it; the trace of what was
evaluated stays in ``budget.trace``. Peers live here, never in :mod:`mmmo`.
"""

from peers.ax_client import run_ax
from peers.budget import BudgetExhausted, EvaluationBudget, FreeTrials, Trace, finite_or_worst
from peers.cmaes import run_cmaes
from peers.mmmo_paper import MMMO_PAPER_BATCH, MMMO_PAPER_INITIAL, run_mmmo_paper
from peers.mmmo_search import run_mmmo
from peers.optuna_samplers import run_optuna
from peers.pymoo_nsga2 import run_pymoo_nsga2

__all__ = [
    "MMMO_PAPER_BATCH",
    "MMMO_PAPER_INITIAL",
    "BudgetExhausted",
    "EvaluationBudget",
    "FreeTrials",
    "Trace",
    "finite_or_worst",
    "run_ax",
    "run_cmaes",
    "run_mmmo",
    "run_mmmo_paper",
    "run_optuna",
    "run_pymoo_nsga2",
]
