"""Reference trials: what every front is seen next to.

Evaluated once at the start of a campaign, before any search: the base model,
each source model on its own, and (unless ``recipes: false``) the standard
recipes at their common defaults. They are stored with ``proposer =
"reference"`` and a unique label, and do not count against the trial budget.

Base and sources are ordinary task-arithmetic plans: the base is every weight
0, a source its own weight 1 and the others 0, all at density 1. Merged like
any plan, they give the base's weights exactly (``base + 0``) and a source's
to within the rounding of ``base + delta``; they export like any merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mmmo.plan import MergePlan

__all__ = ["ReferenceTrial", "reference_trials"]


@dataclass(frozen=True)
class ReferenceTrial:
    """One reference: its label, its kind and the plan it stands for."""

    label: str
    kind: Literal["base", "source", "recipe"]
    plan: MergePlan
    source: str | None = None


def reference_trials(sources: Sequence[str], recipes: bool = True, seed: int = 0) -> list[ReferenceTrial]:
    """Base, each source, then (with ``recipes``) ``recipe:linear`` (uniform average),
    ``recipe:task_arithmetic`` (weight 1 each), ``recipe:ties`` and
    ``recipe:dare_ties`` (weight 1, density 0.5 each, method defaults)."""
    sources = tuple(sources)
    k = len(sources)
    references = [ReferenceTrial("base", "base", MergePlan.uniform("task_arithmetic", sources, 0.0, 1.0, seed=seed))]
    for name in sources:
        weights = [1.0 if other == name else 0.0 for other in sources]
        plan = MergePlan.uniform("task_arithmetic", sources, weights, 1.0, seed=seed)
        references.append(ReferenceTrial(name, "source", plan, source=name))
    if recipes:
        references += [
            ReferenceTrial("recipe:linear", "recipe", MergePlan.uniform("linear", sources, 1.0 / k, seed=seed)),
            ReferenceTrial(
                "recipe:task_arithmetic", "recipe", MergePlan.uniform("task_arithmetic", sources, 1.0, seed=seed)
            ),
            ReferenceTrial("recipe:ties", "recipe", MergePlan.uniform("ties", sources, 1.0, 0.5, seed=seed)),
            ReferenceTrial(
                "recipe:dare_ties", "recipe", MergePlan.uniform("dare_ties", sources, 1.0, 0.5, seed=seed)
            ),
        ]
    return references
