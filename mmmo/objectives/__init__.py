"""Objectives: what a campaign measures on each merged model.

Each objective has a ``name``, a ``direction`` and
``evaluate(model, tokenizer) -> Measurement``; data is read and tokenized once
when it is built. :func:`evaluate_objectives` scores a list of them on one
live model and never raises: a failure is a Measurement with its error.

Names are imported on first use, so ``import mmmo`` (which needs only
:mod:`mmmo.objectives.base`) does not pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mmmo.objectives.base import Direction, Measurement, Objective

if TYPE_CHECKING:
    from mmmo.objectives.answer_scores import AnswerLogLik, TokenAccuracy
    from mmmo.objectives.build import build_objective, build_objectives
    from mmmo.objectives.choice_accuracy import ChoiceAccuracy
    from mmmo.objectives.custom import CallableObjective
    from mmmo.objectives.exact_match import ExactMatch
    from mmmo.objectives.guard import evaluate_objectives, safe_evaluate
    from mmmo.objectives.kinds import BuildContext, ObjectiveKind
    from mmmo.objectives.prompts import AnswerMatching, PromptFormat
    from mmmo.objectives.lm_eval_objective import LmEvalObjective
    from mmmo.objectives.parameter_space import DeltaDensity, DeltaNorm
    from mmmo.objectives.perplexity import Perplexity

_LAZY = {
    "AnswerLogLik": "mmmo.objectives.answer_scores",
    "AnswerMatching": "mmmo.objectives.prompts",
    "BuildContext": "mmmo.objectives.kinds",
    "ObjectiveKind": "mmmo.objectives.kinds",
    "PromptFormat": "mmmo.objectives.prompts",
    "CallableObjective": "mmmo.objectives.custom",
    "ChoiceAccuracy": "mmmo.objectives.choice_accuracy",
    "DeltaDensity": "mmmo.objectives.parameter_space",
    "DeltaNorm": "mmmo.objectives.parameter_space",
    "ExactMatch": "mmmo.objectives.exact_match",
    "LmEvalObjective": "mmmo.objectives.lm_eval_objective",
    "Perplexity": "mmmo.objectives.perplexity",
    "TokenAccuracy": "mmmo.objectives.answer_scores",
    "build_objective": "mmmo.objectives.build",
    "build_objectives": "mmmo.objectives.build",
    "evaluate_objectives": "mmmo.objectives.guard",
    "safe_evaluate": "mmmo.objectives.guard",
}

__all__ = [
    "AnswerLogLik",
    "AnswerMatching",
    "BuildContext",
    "CallableObjective",
    "ChoiceAccuracy",
    "DeltaDensity",
    "DeltaNorm",
    "Direction",
    "ExactMatch",
    "LmEvalObjective",
    "Measurement",
    "Objective",
    "ObjectiveKind",
    "Perplexity",
    "PromptFormat",
    "TokenAccuracy",
    "build_objective",
    "build_objectives",
    "evaluate_objectives",
    "safe_evaluate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mmmo.objectives' has no attribute {name!r}")
