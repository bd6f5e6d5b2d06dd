"""Scoring a trial at a fidelity, reusing the examples its parent already scored.

Fidelity ``f`` scores, for each objective over examples, the first
``ceil(f * N)`` of a fixed, seeded order of its ``N`` examples
(:func:`~mmmo.objectives.data.example_order`; seeded by the campaign's data
seed and the objective's name). The per-example scores go back with the
measurement (``Measurement.scores``, in that order), and a promotion sends them
to the worker as ``prior``: it scores only the examples after them.

The value and standard error are computed from the per-example scores put
back in the objective's own example order, by the same function the
objective uses (:func:`~mmmo.objectives.stats.mean_and_stderr`), so at full
fidelity they are exactly what a fresh full evaluation gives whenever each
example's score does not depend on which examples share its batch (0/1
accuracies always; continuous scores to float rounding of batched kernels).

Objectives without examples (parameter distances) are scored whole at every
fidelity and cost nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from mmmo.objectives.base import Measurement
from mmmo.objectives.data import example_order, fidelity_count
from mmmo.objectives.guard import checked, failure_text, safe_evaluate
from mmmo.objectives.stats import mean_and_stderr

__all__ = ["check_subsettable", "evaluate_at_fidelity", "objective_order", "subsettable"]


def subsettable(objective: Any) -> bool:
    """Whether ``objective`` can be scored on a subset of its examples (``subsets`` False says it cannot)."""
    return (
        callable(getattr(objective, "example_scores", None))
        and hasattr(objective, "__len__")
        and getattr(objective, "subsets", True)
    )


def check_subsettable(objectives: Sequence[Any], kinds: Sequence[str]) -> None:
    """Refuse, before any trial, an objective over examples that cannot be scored on a subset of them.

    Raises:
        ObjectiveError: Naming the objective (an lm-eval metric not aggregated by its mean, say).
    """
    from mmmo.errors import ObjectiveError
    from mmmo.registry import OBJECTIVES

    for index, (objective, kind) in enumerate(zip(objectives, kinds)):
        if OBJECTIVES.get(kind).subset == "examples" and not subsettable(objective):
            raise ObjectiveError(
                f"objectives.{index}: objective {objective.name!r} ({kind}) cannot be scored on a subset of its "
                "examples, which fidelity needs (an lm-eval metric must be aggregated by its mean)"
            )


def objective_order(objective: Any, seed: int) -> list[int]:
    """The fixed example order of ``objective`` for a campaign's data ``seed``."""
    return example_order(len(objective), f"{seed}:{objective.name}")


def _at_fidelity(
    objective: Any, model: Any, fidelity: float, prior: Sequence[float], seed: int
) -> tuple[Measurement, int]:
    order = objective_order(objective, seed)
    count = fidelity_count(len(order), fidelity)
    kept = [float(v) for v in prior[:count]]
    rows = order[len(kept) : count]
    start = time.perf_counter()
    try:
        new = objective.example_scores(model, rows).detach().to(torch.float64).flatten().cpu().tolist() if rows else []
    except Exception as exc:  # noqa: BLE001 - every failure becomes data
        return Measurement.failure(failure_text(exc), time.perf_counter() - start), len(rows)
    if len(new) != len(rows):
        return Measurement.failure(f"example_scores gave {len(new)} scores for {len(rows)} examples"), len(rows)
    scores = kept + new
    # Back in the objective's own example order, so the full-fidelity value is a fresh evaluation's.
    by_example = sorted(range(count), key=lambda i: order[i])
    value, stderr, n = mean_and_stderr(torch.tensor([scores[i] for i in by_example], dtype=torch.float64))
    seconds = time.perf_counter() - start
    return checked(Measurement(value, stderr, n, seconds, scores=tuple(scores)), seconds), len(rows)


def evaluate_at_fidelity(
    objectives: Sequence[Any],
    model: Any,
    tokenizer: Any,
    fidelity: float,
    prior: Mapping[str, Sequence[float]] | None = None,
    seed: int = 0,
) -> tuple[dict[str, Measurement], int]:
    """Every objective at ``fidelity``, reusing ``prior`` per-example scores; never raises.

    Returns:
        The measurements by objective name, and the examples newly scored (the trial's cost).
    """
    if hasattr(model, "eval"):
        model.eval()
    prior = prior or {}
    measurements: dict[str, Measurement] = {}
    cost = 0
    for objective in objectives:
        if subsettable(objective):
            measurement, scored = _at_fidelity(objective, model, fidelity, prior.get(objective.name, ()), seed)
            cost += scored
        else:
            measurement = safe_evaluate(objective, model, tokenizer)
        measurements[objective.name] = measurement
    return measurements, cost
