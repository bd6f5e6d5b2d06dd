"""Objectives from a campaign config's ``objectives:`` entries, through the registry of kinds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mmmo.config import ObjectiveSpec
from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Objective
from mmmo.objectives.kinds import BuildContext
from mmmo.registry import OBJECTIVES


def build_objective(
    spec: ObjectiveSpec, tokenizer: Any, base_state: Mapping[str, Any] | None = None, seed: int = 0
) -> Objective:
    """The objective a spec describes, data read and tokenized now.

    Args:
        spec: One validated entry of a campaign config.
        tokenizer: The tokenizer of the models to be scored (data kinds, lm_eval).
        base_state: Base model tensors by name (``delta_*`` kinds).
        seed: Seed of data subsets (``limit``).

    Raises:
        ObjectiveError: Malformed data (naming file and line), a missing
            tokenizer or base state, an unknown lm-eval task or metric, a
            callable that cannot be imported, a builder that returns no objective.
    """
    name = spec.resolved_name
    kind = OBJECTIVES.get(spec.kind)
    if kind.needs_tokenizer and tokenizer is None:
        raise ObjectiveError(f"objective {name!r} ({spec.kind}) needs a tokenizer; the base model has none")
    objective = kind.build(spec, BuildContext(tokenizer=tokenizer, base_state=base_state, seed=seed))
    if not isinstance(objective, Objective):
        raise ObjectiveError(
            f"objective {name!r}: kind {spec.kind!r} built {type(objective).__name__}, which lacks "
            f"name, direction or evaluate(model, tokenizer)"
        )
    if spec.direction is not None and kind.direction is not None:
        # A direction in the config overrides the kind's natural one.
        objective.direction = spec.direction
    return objective


def build_objectives(
    specs: Sequence[ObjectiveSpec], tokenizer: Any, base_state: Mapping[str, Any] | None = None, seed: int = 0
) -> list[Objective]:
    """:func:`build_objective` for each spec; names must be unique."""
    objectives = [build_objective(spec, tokenizer, base_state, seed) for spec in specs]
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ObjectiveError(f"objective names must be unique, got {names}")
    return objectives
