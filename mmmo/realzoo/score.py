"""First-line exact match of a real model's greedy output, for the zoo's manifest.

A pretrained model that was never taught to stop after the answer (the base,
or an expert on another task) goes on writing after it, usually from the
next line on. So the output is cut at the first newline (or EOS) before it is
compared, stripped, with the gold answer: the base is credited for what it
knows, and an expert's EOS-terminated answer scores the same. Decoding is
transformers' own greedy ``generate`` on left-padded batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mmmo.errors import ZooError

#: Recorded in the manifest: how its scores were measured.
SCORER = "mmmo.realzoo.score: greedy, first line, stripped, exact match"


@dataclass(frozen=True)
class TaskScore:
    exact_match: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"exact_match": self.exact_match, "n": self.n}


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].strip()


class FirstLineExactMatch:
    """Exact match of the first output line on a ``{"prompt", "answer"}`` JSONL file.

    Args:
        data: The JSONL file (the task's test split).
        tokenizer: The model's tokenizer (its EOS ends a row's output).
        batch_size: Prompts decoded together.
        extra_tokens: Tokens decoded beyond the longest gold answer, so an
            answer followed by a newline is seen whole.
    """

    def __init__(self, data: Path, tokenizer: Any, batch_size: int = 32, extra_tokens: int = 2) -> None:
        rows = [json.loads(line) for line in Path(data).read_text().splitlines() if line.strip()]
        if not rows:
            raise ZooError(f"{data}: no examples to score")
        self.prompts = [row["prompt"] for row in rows]
        self.golds = [row["answer"].strip() for row in rows]
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        longest = max(len(tokenizer(row["answer"], add_special_tokens=False).input_ids) for row in rows)
        self.max_new_tokens = longest + extra_tokens

    @torch.inference_mode()
    def predictions(self, model: Any) -> list[str]:
        """The first line of the greedy output of every prompt, in file order."""
        tokenizer = self.tokenizer
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            out: list[str] = []
            for start in range(0, len(self.prompts), self.batch_size):
                batch = tokenizer(self.prompts[start : start + self.batch_size], return_tensors="pt", padding=True)
                generated = model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
                new = generated[:, batch["input_ids"].shape[1] :]
                out.extend(first_line(t) for t in tokenizer.batch_decode(new, skip_special_tokens=True))
        finally:
            tokenizer.padding_side = side
        return out

    def __call__(self, model: Any) -> TaskScore:
        predictions = self.predictions(model)
        correct = sum(p == g for p, g in zip(predictions, self.golds, strict=True))
        return TaskScore(correct / len(self.golds), len(self.golds))
