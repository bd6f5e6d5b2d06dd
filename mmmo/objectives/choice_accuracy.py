"""Multiple-choice accuracy by log-likelihood.

Each choice is scored as a continuation of the prompt (``choice`` then EOS,
the same convention as answers), by the sum of its tokens' log-probabilities;
the example is right when the gold choice scores highest (ties go to the
first choice, as ``argmax`` does). All (example, choice) rows of the file are
packed together, so a trial costs one forward pass per batch of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.data import read_choice_rows, subsample
from mmmo.objectives.guard import measure
from mmmo.objectives.stats import mean_and_stderr
from mmmo.objectives.teacher_forcing import pack_continuations, score_continuations
from mmmo.objectives.prompts import PromptFormat
from mmmo.objectives.tokens import answer_ids, pad_id_of


class ChoiceAccuracy:
    """Fraction of examples whose gold choice has the highest log-likelihood.

    Args:
        name: Objective name.
        data: JSONL file with ``prompt`` (str), ``choices`` (list of str) and
            ``gold`` (index into ``choices``).
        tokenizer: The tokenizer the data is encoded with (once, here).
        limit: Score a deterministic subsample of this many examples.
        seed: Seed of the subsample.
        batch_size: (example, choice) rows per forward pass.
        length_normalize: Rank choices by mean instead of summed log-probability
            (lm-eval's ``acc_norm`` idea, per token rather than per byte).
        prompt_format: How prompts are rendered (chat template, few-shot prefix).
    """

    direction: Direction = "maximize"

    def __init__(
        self,
        name: str,
        data: str | Path,
        tokenizer: Any,
        limit: int | None = None,
        seed: int = 0,
        batch_size: int = 64,
        length_normalize: bool = False,
        prompt_format: PromptFormat | None = None,
    ) -> None:
        self.name = name
        self.data = Path(data)
        self.examples = subsample(read_choice_rows(self.data), limit, seed)
        self.length_normalize = length_normalize
        prompt_format = prompt_format or PromptFormat()
        prompt_format.check(tokenizer, f"objective {name!r}")
        contexts, continuations, owners = [], [], []
        for index, (prompt, choices, _) in enumerate(self.examples):
            context = prompt_format.ids(tokenizer, prompt)
            for choice in choices:
                contexts.append(context)
                continuations.append(answer_ids(tokenizer, choice))
                owners.append(index)
        self._owners = torch.tensor(owners)
        self._golds = torch.tensor([gold for _, _, gold in self.examples])
        self._rows = (contexts, continuations, pad_id_of(tokenizer), batch_size)
        self._batches = pack_continuations(contexts, continuations, pad_id_of(tokenizer), batch_size)

    def __len__(self) -> int:
        return len(self.examples)

    def evaluate(self, model: Any, tokenizer: Any = None) -> Measurement:
        return measure(lambda: mean_and_stderr(self.correct(model).double()))

    def correct(self, model: Any, rows: list[int] | None = None) -> torch.Tensor:
        """Whether each example of ``rows`` (indices into ``examples``, default all) ranks its gold choice first."""
        if rows is None:
            batches, owners, golds = self._batches, self._owners, self._golds
        else:
            contexts, continuations, pad_id, batch_size = self._rows
            wanted = set(rows)
            keep = [r for r in range(len(self._owners)) if int(self._owners[r]) in wanted]
            position = {example: j for j, example in enumerate(rows)}
            # Packed in ``rows`` order: each example's choices stay contiguous.
            keep.sort(key=lambda r: (position[int(self._owners[r])], r))
            batches = pack_continuations(
                [contexts[r] for r in keep], [continuations[r] for r in keep], pad_id, batch_size
            )
            owners = torch.tensor([position[int(self._owners[r])] for r in keep])
            golds = self._golds[rows]
        scores = score_continuations(model, batches)
        per_row = scores.logprob / scores.tokens if self.length_normalize else scores.logprob
        # Rows of one example are contiguous (built in example order above).
        groups = torch.split(per_row, torch.bincount(owners).tolist())
        picked = torch.tensor([int(group.argmax()) for group in groups])
        return picked == golds

    def example_scores(self, model: Any, rows: list[int] | None = None) -> torch.Tensor:
        """1.0 or 0.0 per example of ``rows`` (default all), in that order."""
        return self.correct(model, rows).double()
