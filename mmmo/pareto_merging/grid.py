"""Evaluating a grid of preferences and storing each as a campaign trial.

Each preference's weights are written into the live model
(:meth:`ParetoMergedModel.model_for`), scored by the campaign's objectives, and
recorded with :meth:`mmmo.campaign.Campaign.record_external` under proposer
``pareto_merging`` with parameters ``preference[<task>]``. The campaign's
``front()``, ``hypervolume_history()``, ``select()`` and plots then treat the
grid exactly like the trials of a search.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from mmmo.objectives.base import Measurement, Objective
from mmmo.pareto_merging.merged import ParetoMergedModel, preference_columns

PROPOSER = "pareto_merging"


@dataclass(frozen=True)
class GridPoint:
    """One evaluated preference.

    Attributes:
        preference: Task name -> weight (sums to 1).
        measurements: Objective name -> measurement.
        seconds_write: Time to compute and write the weights.
        trial_id: The campaign trial it was stored as (``None`` without a campaign).
    """

    preference: dict[str, float]
    measurements: dict[str, Measurement]
    seconds_write: float
    trial_id: int | None


def evaluate_grid(
    pm: ParetoMergedModel,
    preferences: Tensor | Sequence[Sequence[float]],
    objectives: Sequence[Objective],
    tokenizer: Any,
    campaign: Any = None,
    progress: bool = False,
) -> list[GridPoint]:
    """Score the model at each preference; store each as a trial when given a campaign.

    Args:
        pm: The trained model.
        preferences: ``n x K`` preferences (checked and normalised one by one).
        objectives: Built objectives (:func:`mmmo.objectives.build_objectives`).
        tokenizer: Passed to every objective.
        campaign: A :class:`mmmo.campaign.Campaign` open for writing, or ``None``.
        progress: Show a progress bar.

    Returns:
        One :class:`GridPoint` per preference, in order. The live model is
        left at the last preference.
    """
    from mmmo.objectives import evaluate_objectives

    rows = list(preferences)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc="preference grid", unit="model")
    points = []
    for raw in rows:
        preference = pm.preference(raw)
        started = time.perf_counter()
        model = pm.model_for(preference)
        seconds_write = time.perf_counter() - started
        measurements = evaluate_objectives(list(objectives), model, tokenizer)
        trial_id = None
        if campaign is not None:
            trial_id = campaign.record_external(
                preference_columns(pm.task_names, preference), measurements, proposer=PROPOSER, plan=None
            )
        points.append(
            GridPoint(
                preference=dict(zip(pm.task_names, preference.tolist())),
                measurements=dict(measurements),
                seconds_write=seconds_write,
                trial_id=trial_id,
            )
        )
    return points
