"""Graded answer scores on (prompt, answer) data, teacher-forced.

Cheaper and smoother than exact match (one forward pass per batch, no
decoding loop), so a search sees progress before answers become exactly
right. The continuation scored is the answer's tokens followed by EOS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.data import read_answer_rows, subsample
from mmmo.objectives.guard import measure
from mmmo.objectives.stats import mean_and_stderr
from mmmo.objectives.teacher_forcing import (
    ContinuationScores,
    pack_continuations,
    score_continuations,
)
from mmmo.objectives.prompts import PromptFormat
from mmmo.objectives.tokens import answer_ids, pad_id_of


class _AnswerScore:
    direction: Direction = "maximize"

    def __init__(
        self,
        name: str,
        data: str | Path,
        tokenizer: Any,
        limit: int | None = None,
        seed: int = 0,
        batch_size: int = 64,
        prompt_format: PromptFormat | None = None,
    ) -> None:
        self.name = name
        self.data = Path(data)
        self.examples = subsample(read_answer_rows(self.data), limit, seed)
        prompt_format = prompt_format or PromptFormat()
        prompt_format.check(tokenizer, f"objective {name!r}")
        self._contexts = [prompt_format.ids(tokenizer, prompt) for prompt, _ in self.examples]
        self._answers = [answer_ids(tokenizer, answer) for _, answer in self.examples]
        self._pad_id, self._batch_size = pad_id_of(tokenizer), batch_size
        self._batches = pack_continuations(self._contexts, self._answers, self._pad_id, batch_size)

    def __len__(self) -> int:
        return len(self.examples)

    def evaluate(self, model: Any, tokenizer: Any = None) -> Measurement:
        return measure(lambda: mean_and_stderr(self._per_example(score_continuations(model, self._batches))))

    def example_scores(self, model: Any, rows: list[int] | None = None):
        """The per-example score of ``rows`` (indices into ``examples``, default all), in that order."""
        if rows is None:
            return self._per_example(score_continuations(model, self._batches))
        batches = pack_continuations(
            [self._contexts[i] for i in rows], [self._answers[i] for i in rows], self._pad_id, self._batch_size
        )
        return self._per_example(score_continuations(model, batches))

    def _per_example(self, scores: ContinuationScores):
        raise NotImplementedError


class TokenAccuracy(_AnswerScore):
    """Mean over examples of the fraction of answer tokens (EOS included) that
    are the model's argmax prediction given the prompt and the gold prefix.

    Args: as :class:`~mmmo.objectives.exact_match.ExactMatch` (no generation options).
    """

    def _per_example(self, scores: ContinuationScores):
        return scores.correct.double() / scores.tokens


class AnswerLogLik(_AnswerScore):
    """Mean over examples of the per-token mean log-probability of the answer
    (EOS included) given the prompt; 0 is a certain, right answer.

    The per-example value is length-normalised (mean over the answer's tokens),
    so long and short answers weigh the same.
    """

    def _per_example(self, scores: ContinuationScores):
        return scores.logprob / scores.tokens
