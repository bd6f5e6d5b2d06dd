"""Objective kinds: what ``kind:`` in a config names, and how each is built.

An :class:`ObjectiveKind` says which fields of an objective entry the kind
reads (the config refuses the others, and a missing required one, naming the
field), its natural direction, and how to build the objective from the entry.
mmmo's own kinds are below; a user adds one with
``mmmo.registry.OBJECTIVES.register(ObjectiveKind(...))`` or through an entry
point in the ``mmmo.objectives`` group (see :mod:`mmmo.registry`).

This module imports no torch: the config validators read these records, and
each builder imports its objective's module only when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mmmo.objectives.base import Direction, Objective

if TYPE_CHECKING:
    from mmmo.config import ObjectiveSpec

# Fields every kind accepts.
COMMON_FIELDS = frozenset({"kind", "name", "direction", "limit", "batch_size"})
PROMPT_FIELDS = frozenset({"chat_template", "system_prompt", "fewshot"})
ANSWER_FIELDS = frozenset({"stop", "answer_pattern", "normalize", "max_new_tokens"})


@dataclass(frozen=True)
class BuildContext:
    """What a builder may use besides the config entry.

    Attributes:
        tokenizer: The tokenizer of the models scored (None when the base has none).
        base_state: Base model tensors by name.
        seed: The campaign's seed (data subsets are drawn with it).
    """

    tokenizer: Any = None
    base_state: Mapping[str, Any] | None = None
    seed: int = 0


@dataclass(frozen=True)
class ObjectiveKind:
    """One kind of objective.

    Attributes:
        name: What ``kind:`` says.
        build: ``(spec, context) -> Objective``; raises
            :class:`~mmmo.errors.ObjectiveError` on bad data.
        fields: Optional entry fields the kind reads, beyond ``kind``, ``name``,
            ``direction``, ``limit`` and ``batch_size``; a user's kind reads its
            own settings from ``options``.
        required: Fields that must be set.
        direction: The natural direction; ``None`` when the built objective
            reports its own (lm-eval's ``higher_is_better``).
        needs_tokenizer: Refuse to build without a tokenizer.
        subset: How the objective takes part in multi-fidelity search:
            ``examples`` (its objective has ``example_scores(model, rows)`` and
            ``len()``, and is scored on a prefix of its example order),
            ``whole`` (no examples: scored whole at every fidelity), or
            ``None`` (cannot be subset; a campaign with fidelity refuses it).
    """

    name: str
    build: Callable[[ObjectiveSpec, BuildContext], Objective]
    fields: frozenset[str] = frozenset({"options"})
    required: frozenset[str] = frozenset()
    direction: Direction | None = "maximize"
    needs_tokenizer: bool = False
    subset: Literal["examples", "whole"] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", frozenset(self.fields) | COMMON_FIELDS | frozenset(self.required))
        object.__setattr__(self, "required", frozenset(self.required))


def _data_args(spec: ObjectiveSpec, context: BuildContext) -> dict[str, Any]:
    return {"limit": spec.limit, "batch_size": spec.batch_size, "seed": context.seed}


def prompt_format(spec: ObjectiveSpec) -> Any:
    from mmmo.objectives.prompts import PromptFormat

    where = f"objective {spec.resolved_name!r}: fewshot"
    return PromptFormat.from_files(spec.chat_template, spec.system_prompt, spec.fewshot, where)


def _exact_match(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.exact_match import ExactMatch
    from mmmo.objectives.prompts import AnswerMatching

    matching = None
    if spec.stop is not None or spec.answer_pattern is not None or spec.normalize is not None:
        if spec.stop is None:
            from mmmo.objectives.data import read_answer_rows
            from mmmo.objectives.prompts import default_stop

            stop = default_stop([answer for _, answer in read_answer_rows(spec.data)])
        else:
            stop = tuple(spec.stop)
        matching = AnswerMatching.create(stop, spec.answer_pattern, spec.normalize or ("strip",))
    return ExactMatch(
        spec.resolved_name,
        spec.data,
        context.tokenizer,
        max_new_tokens=spec.max_new_tokens,
        prompt_format=prompt_format(spec),
        matching=matching,
        **_data_args(spec, context),
    )


def _token_accuracy(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.answer_scores import TokenAccuracy

    return TokenAccuracy(
        spec.resolved_name, spec.data, context.tokenizer, prompt_format=prompt_format(spec), **_data_args(spec, context)
    )


def _answer_loglik(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.answer_scores import AnswerLogLik

    return AnswerLogLik(
        spec.resolved_name, spec.data, context.tokenizer, prompt_format=prompt_format(spec), **_data_args(spec, context)
    )


def _choice_accuracy(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.choice_accuracy import ChoiceAccuracy

    return ChoiceAccuracy(
        spec.resolved_name, spec.data, context.tokenizer, prompt_format=prompt_format(spec), **_data_args(spec, context)
    )


def _perplexity(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.perplexity import Perplexity

    return Perplexity(spec.resolved_name, spec.data, context.tokenizer, **_data_args(spec, context))


def _delta_norm(p: int) -> Callable[[ObjectiveSpec, BuildContext], Objective]:
    def build(spec: ObjectiveSpec, context: BuildContext) -> Objective:
        from mmmo.objectives.parameter_space import DeltaNorm

        return DeltaNorm(spec.resolved_name, context.base_state, p=p)

    return build


def _delta_density(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.parameter_space import DeltaDensity

    return DeltaDensity(spec.resolved_name, context.base_state)


def _lm_eval(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.lm_eval_objective import LmEvalObjective

    return LmEvalObjective(
        spec.resolved_name,
        spec.task,
        context.tokenizer,
        metric=spec.metric,
        include_path=spec.include_path,
        direction=spec.direction,
        chat_template=spec.chat_template,
        system_prompt=spec.system_prompt,
        **_data_args(spec, context),
    )


def _callable(spec: ObjectiveSpec, context: BuildContext) -> Objective:
    from mmmo.objectives.custom import CallableObjective, import_function

    function = import_function(spec.function, spec.function_dir)
    return CallableObjective(spec.resolved_name, function, spec.resolved_direction or "maximize")


_DATA = frozenset({"data"})

EXACT_MATCH = ObjectiveKind(
    "exact_match", _exact_match, PROMPT_FIELDS | ANSWER_FIELDS, _DATA, needs_tokenizer=True, subset="examples"
)
TOKEN_ACCURACY = ObjectiveKind(
    "token_accuracy", _token_accuracy, PROMPT_FIELDS, _DATA, needs_tokenizer=True, subset="examples"
)
ANSWER_LOGLIK = ObjectiveKind(
    "answer_loglik", _answer_loglik, PROMPT_FIELDS, _DATA, needs_tokenizer=True, subset="examples"
)
CHOICE_ACCURACY = ObjectiveKind(
    "choice_accuracy", _choice_accuracy, PROMPT_FIELDS, _DATA, needs_tokenizer=True, subset="examples"
)
# Perplexity pools tokens over documents: not a mean of per-example scores.
PERPLEXITY = ObjectiveKind("perplexity", _perplexity, frozenset(), _DATA, "minimize", needs_tokenizer=True)
DELTA_L1 = ObjectiveKind("delta_l1", _delta_norm(1), frozenset(), direction="minimize", subset="whole")
DELTA_L2 = ObjectiveKind("delta_l2", _delta_norm(2), frozenset(), direction="minimize", subset="whole")
DELTA_DENSITY = ObjectiveKind("delta_density", _delta_density, frozenset(), direction="minimize", subset="whole")
LM_EVAL = ObjectiveKind(
    "lm_eval",
    _lm_eval,
    frozenset({"metric", "include_path", "chat_template", "system_prompt"}),
    frozenset({"task"}),
    direction=None,
    needs_tokenizer=True,
    subset="examples",  # metrics aggregated by their mean; checked when the objective is built
)
CALLABLE = ObjectiveKind("callable", _callable, frozenset(), frozenset({"function"}))
