"""Scores of a zoo model on a task's test split, for the manifest.

The zoo measures its models with the same objectives a campaign uses
(:mod:`mmmo.objectives`), so the manifest's numbers are the numbers a search
sees: exact match (greedy decoding until ``</s>``), token accuracy and answer
log-likelihood (teacher-forced, graded where exact match jumps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerFast

from mmmo.errors import ZooError

#: Recorded in the manifest: which code measured its scores.
EVALUATOR = "mmmo.objectives: ExactMatch, TokenAccuracy, AnswerLogLik"


@dataclass(frozen=True)
class TaskScores:
    exact_match: float
    token_accuracy: float
    answer_loglik: float

    def to_dict(self) -> dict[str, float]:
        return {
            "exact_match": self.exact_match,
            "token_accuracy": self.token_accuracy,
            "answer_loglik": self.answer_loglik,
        }


class TaskScorer:
    """The three objectives of one JSONL test split, tokenized once."""

    def __init__(self, name: str, data: Path, tokenizer: PreTrainedTokenizerFast, batch_size: int = 256):
        from mmmo.objectives import AnswerLogLik, ExactMatch, TokenAccuracy

        self.name = name
        self.tokenizer = tokenizer
        self.objectives = (
            ExactMatch(name, data, tokenizer, batch_size=batch_size),
            TokenAccuracy(name, data, tokenizer, batch_size=batch_size),
            AnswerLogLik(name, data, tokenizer, batch_size=batch_size),
        )

    def __call__(self, model: PreTrainedModel) -> TaskScores:
        values = []
        for objective in self.objectives:
            measurement = objective.evaluate(model, self.tokenizer)
            if not measurement.ok:
                raise ZooError(
                    f"scoring task {self.name!r} with {type(objective).__name__} failed: {measurement.error}"
                )
            values.append(float(measurement.value))
        return TaskScores(*values)
