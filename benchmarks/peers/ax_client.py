"""Ax's default multi-objective generation strategy, through its ``Client`` API.

The experiment has one float parameter in ``[0, 1]`` per unit-cube coordinate
and one objective per task (``"a, b, c"`` makes Ax optimise all three). The
generation strategy is Ax's default (``method="fast"``: a Sobol start, the
centre point first, then its modular BoTorch model, qLogNEHVI for several
objectives) with the initialisation budget set to ``initial`` so it starts
from as many points as the other methods, and seeded by the run's seed. One
trial at a time, as the mmmo runs. A categorical coordinate (the method choice)
is an unordered choice parameter over the space's category values.

A warm run attaches each free in-space point (``f.free``) as a completed
trial before the first ``get_next_trials`` (``Client.attach_trial`` +
``complete_trial``), as a user adds the trials a campaign already scored.
Ax's defaults decide what they are worth (``use_existing_trials_for_initialization=True``):
the Sobol node's ``MinTrials`` criterion counts every trial of the experiment,
so the ``k`` attached ones fill the initialisation budget first and Sobol
points follow until the experiment holds ``initial`` trials (Ax 1.3.1 still
draws one when ``k >= initial``: it enters the Sobol node before checking
that node's criterion); the centre node is skipped because the experiment
already holds trials. They are in the data of every model fit from the first.

Ax's fully Bayesian SAAS generator is not used on the per-layer spaces: its
NUTS sampling costs minutes per trial at 60-108 dimensions on two cores, more
than whole runs of the other methods; Ax runs its default there too.
"""

from __future__ import annotations

import logging

import numpy as np

from peers.budget import BudgetExhausted, EvaluationBudget, finite_or_worst

__all__ = ["run_ax"]


def run_ax(f: EvaluationBudget, dim: int, objective_names: list[str], initial: int, seed: int,
           categorical: dict[int, tuple[float, ...]] | None = None) -> None:
    """Spend ``f``'s budget with Ax's default generation strategy (``categorical``: column -> values)."""
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    for name in ("ax", "ax.api", "ax.api.client", "ax.modelbridge", "ax.generation_strategy", "ax.service",
                 "ax.storage.sqa_store.with_db_settings_base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = Client(random_seed=seed)
    names = [f"x{i}" for i in range(dim)]
    categorical = categorical or {}
    client.configure_experiment(
        parameters=[
            ChoiceParameterConfig(name=n, values=list(categorical[i]), parameter_type="float", is_ordered=False)
            if i in categorical
            else RangeParameterConfig(name=n, bounds=(0.0, 1.0), parameter_type="float")
            for i, n in enumerate(names)
        ]
    )
    client.configure_optimization(objective=", ".join(objective_names))
    client.configure_generation_strategy(initialization_budget=initial, initialization_random_seed=seed)
    if f.free is not None:
        free_X, free_Y = f.free.in_space(dim)
        for x, y in zip(free_X, free_Y):
            index = client.attach_trial(parameters={n: float(v) for n, v in zip(names, x)})
            client.complete_trial(index, raw_data=dict(zip(objective_names, finite_or_worst(np.asarray(y)).tolist())))
    try:
        while f.remaining > 0:
            for index, parameters in client.get_next_trials(max_trials=1).items():
                y = finite_or_worst(f([float(parameters[n]) for n in names]))
                client.complete_trial(index, raw_data=dict(zip(objective_names, y.tolist())))
    except BudgetExhausted:
        pass
