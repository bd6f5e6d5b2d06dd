"""Optuna's multi-objective samplers (NSGA-II and TPE), through ask-and-tell.

Each coordinate of the unit cube is one float parameter in ``[0, 1]``, but a
categorical one (the method choice of a space with several methods), which is
Optuna's own categorical parameter over the space's category values. The
NSGA-II sampler's default population (50) exceeds the budget, so it gets the
initial design size, as pymoo's NSGA-II does; TPE gets ``initial`` start-up
trials (its default is 10) and its other defaults.

A warm run adds the free in-space points (``f.free``) to the study before
the first ``ask``, as complete trials scored elsewhere
(``study.add_trial(create_trial(...))``; a failed score as the worst, 0):

- TPE has them in its history from the start; they count among its
  ``n_startup_trials``, as every complete trial does.
- NSGA-II ranks for parents only the trials it files under a generation, and
  an added trial carries none, so each is filed under the first one (the
  sampler's own generation attribute, ``0``): the first generation is the
  free points, then sampled ones up to the population size, as pymoo's.
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
    categorical = categorical or {}
    study = optuna.create_study(directions=["maximize"] * num_objectives, sampler=sampler)
    if f.free is not None:
        distributions = {
            f"x{i}": optuna.distributions.CategoricalDistribution(list(categorical[i])) if i in categorical
            else optuna.distributions.FloatDistribution(0.0, 1.0)
            for i in range(dim)
        }
        # The key NSGA-II reads a trial's generation from (a class attribute of Optuna's GA samplers).
        generation = {sampler._get_generation_key(): 0} if sampler_name == "nsga2" else {}
        for x, y in zip(*f.free.in_space(dim)):
            study.add_trial(optuna.trial.create_trial(
                params={f"x{i}": float(v) for i, v in enumerate(x)}, distributions=distributions,
                values=finite_or_worst(y).tolist(), system_attrs=generation,
            ))
    try:
        while f.remaining > 0:
            trial = study.ask()
            x = [
                trial.suggest_categorical(f"x{i}", list(categorical[i])) if i in categorical
                else trial.suggest_float(f"x{i}", 0.0, 1.0)
                for i in range(dim)
            ]
            study.tell(trial, finite_or_worst(f(x)).tolist())
    except BudgetExhausted:
        pass
