"""Objectives from a campaign config's ``objectives:`` entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from mmmo.config import ObjectiveSpec
from mmmo.errors import ObjectiveError
from mmmo.objectives.base import Objective

TOKENIZED_KINDS = frozenset(
    {"exact_match", "token_accuracy", "answer_loglik", "choice_accuracy", "perplexity", "lm_eval"}
)


def build_objective(
    spec: ObjectiveSpec, tokenizer: Any, base_state: Mapping[str, Tensor] | None = None
) -> Objective:
    """The objective a spec describes, data read and tokenized now.

    Args:
        spec: One validated entry of a campaign config.
        tokenizer: The tokenizer of the models to be scored (data kinds, lm_eval).
        base_state: Base model tensors by name (``delta_*`` kinds).

    Raises:
        ObjectiveError: Malformed data (naming file and line), a missing
            tokenizer or base state, an unknown lm-eval task or metric, a
            callable that cannot be imported.
    """
    name = spec.resolved_name
    kind = spec.kind
    if kind in TOKENIZED_KINDS and tokenizer is None:
        raise ObjectiveError(f"objective {name!r} ({kind}) needs a tokenizer; the base model has none")
    data = {"limit": spec.limit, "batch_size": spec.batch_size}
    objective: Objective
    if kind == "exact_match":
        from mmmo.objectives.exact_match import ExactMatch

        objective = ExactMatch(name, spec.data, tokenizer, max_new_tokens=spec.max_new_tokens, **data)
    elif kind == "token_accuracy":
        from mmmo.objectives.answer_scores import TokenAccuracy

        objective = TokenAccuracy(name, spec.data, tokenizer, **data)
    elif kind == "answer_loglik":
        from mmmo.objectives.answer_scores import AnswerLogLik

        objective = AnswerLogLik(name, spec.data, tokenizer, **data)
    elif kind == "choice_accuracy":
        from mmmo.objectives.choice_accuracy import ChoiceAccuracy

        objective = ChoiceAccuracy(name, spec.data, tokenizer, **data)
    elif kind == "perplexity":
        from mmmo.objectives.perplexity import Perplexity

        objective = Perplexity(name, spec.data, tokenizer, **data)
    elif kind in ("delta_l1", "delta_l2"):
        from mmmo.objectives.parameter_space import DeltaNorm

        objective = DeltaNorm(name, base_state, p=1 if kind == "delta_l1" else 2)
    elif kind == "delta_density":
        from mmmo.objectives.parameter_space import DeltaDensity

        objective = DeltaDensity(name, base_state)
    elif kind == "lm_eval":
        from mmmo.objectives.lm_eval_objective import LmEvalObjective

        objective = LmEvalObjective(
            name,
            spec.task,
            tokenizer,
            metric=spec.metric,
            include_path=spec.include_path,
            direction=spec.direction,
            **data,
        )
    elif kind == "callable":
        from mmmo.objectives.custom import CallableObjective, import_function

        objective = CallableObjective(
            name, import_function(spec.function), spec.resolved_direction or "maximize"
        )
    else:  # pragma: no cover - ObjectiveSpec admits only the kinds above
        raise ObjectiveError(f"objective {name!r}: unknown kind {kind!r}")
    if spec.direction is not None and kind != "lm_eval":
        # A direction in the config overrides the kind's natural one.
        objective.direction = spec.direction
    return objective


def build_objectives(
    specs: Sequence[ObjectiveSpec], tokenizer: Any, base_state: Mapping[str, Tensor] | None = None
) -> list[Objective]:
    """:func:`build_objective` for each spec; names must be unique."""
    objectives = [build_objective(spec, tokenizer, base_state) for spec in specs]
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ObjectiveError(f"objective names must be unique, got {names}")
    return objectives
