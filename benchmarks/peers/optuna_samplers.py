"""Optuna's multi-objective samplers (NSGA-II and TPE), through ask-and-tell.

Each coordinate of the unit cube is one float parameter in ``[0, 1]``, but a
categorical one (the method choice of a space with several methods), which is
Optuna's own categorical parameter over the space's category values. The
NSGA-II sampler's default population (50) exceeds the budget, so it gets the
initial design size, as pymoo's NSGA-II does; TPE gets ``initial`` start-up
trials (its default is 10) and its other defaults.
"""

from __future__ import annotations

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["run_optuna"]


def run_optuna(f: EvaluationBudget, sampler_name: str, dim: int, num_objectives: int, initial: int,
               seed: int, categorical: dict[int, tuple[float, ...]] | None = None) -> None:
    """Spend ``f``'s budget with Optuna's ``nsga2`` or ``tpe`` sampler (``categorical``: column -> values)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler_name == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(population_size=initial, seed=seed)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(n_startup_trials=initial, seed=seed)
    else:
        raise ValueError(f"unknown Optuna sampler {sampler_name!r}; expected 'nsga2' or 'tpe'")
    study = optuna.create_study(directions=["maximize"] * num_objectives, sampler=sampler)
    try:
        while f.remaining > 0:
            trial = study.ask()
            x = [
                trial.suggest_categorical(f"x{i}", list(categorical[i])) if i in (categorical or {})
                else trial.suggest_float(f"x{i}", 0.0, 1.0)
                for i in range(dim)
            ]
            study.tell(trial, finite_or_worst(f(x)).tolist())
    except BudgetExhausted:
        pass
