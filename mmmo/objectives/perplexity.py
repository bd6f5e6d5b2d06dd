"""Perplexity (and mean negative log-likelihood) of a text or JSONL file.

Each document is ``tokenizer(text)`` (with BOS) followed by EOS; every token
after the first is scored once. A document longer than ``max_length`` tokens
is cut into windows of ``max_length``; each window after the first starts
with the previous window's last token as its only context, so no token is
scored twice or skipped (at the cost of short context at window starts).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mmmo.objectives.base import Direction, Measurement
from mmmo.objectives.data import read_texts, subsample
from mmmo.objectives.guard import measure
from mmmo.objectives.teacher_forcing import pack_continuations, score_continuations
from mmmo.objectives.tokens import pad_id_of, prompt_ids, special_id


class Perplexity:
    """``exp`` of the mean negative log-likelihood per token over all documents.

    Args:
        name: Objective name.
        data: A ``.jsonl`` file with a string field ``text`` per line, or any
            other text file, read whole as one document.
        tokenizer: The tokenizer the data is encoded with (once, here).
        limit: Score a deterministic subsample of this many documents.
        seed: Seed of the subsample.
        batch_size: Windows per forward pass.
        max_length: Longest window in tokens (at most the model's context).
        report: ``"perplexity"`` or ``"nll"`` (mean negative log-likelihood
            per token, in nats); both are minimised.
    """

    direction: Direction = "minimize"

    def __init__(
        self,
        name: str,
        data: str | Path,
        tokenizer: Any,
        limit: int | None = None,
        seed: int = 0,
        batch_size: int = 16,
        max_length: int = 1024,
        report: str = "perplexity",
    ) -> None:
        if report not in ("perplexity", "nll"):
            raise ValueError(f"report must be 'perplexity' or 'nll', got {report!r}")
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {max_length}")
        self.name = name
        self.data = Path(data)
        self.report = report
        self.documents = subsample(read_texts(self.data), limit, seed)
        eos = special_id(tokenizer, "eos")
        contexts, continuations = [], []
        for text in self.documents:
            ids = prompt_ids(tokenizer, text) + [eos]
            # Windows overlap by one token: the context of the next window.
            for start in range(0, len(ids) - 1, max_length - 1):
                window = ids[start : start + max_length]
                contexts.append(window[:1])
                continuations.append(window[1:])
        self.num_tokens = sum(len(c) for c in continuations)
        self._batches = pack_continuations(contexts, continuations, pad_id_of(tokenizer), batch_size)

    def __len__(self) -> int:
        return len(self.documents)

    def evaluate(self, model: Any, tokenizer: Any = None) -> Measurement:
        return measure(lambda: self._score(model))

    def _score(self, model: Any) -> tuple[float, None, int]:
        scores = score_continuations(model, self._batches)
        nll = -scores.logprob.sum().item() / self.num_tokens
        return (math.exp(nll) if self.report == "perplexity" else nll), None, len(self.documents)
