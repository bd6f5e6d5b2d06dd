"""Training examples of each task, tokenized once.

Two kinds, following the project's tokenization convention (the prompt with
the tokenizer's default special tokens, then the answer without them, then
EOS):

- ``lm`` (labelled proxy set): JSONL ``{"prompt", "answer"}``; the answer
  tokens and EOS are the targets of the language-modelling loss.
- ``entropy`` (unlabelled inputs): JSONL with a ``prompt`` (an ``answer``, if
  present, is ignored). The targets are the starting merge's own greedy
  continuation of each prompt, generated once: its prediction entropy along
  that continuation is the AdaMerging surrogate for a sequence output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from mmmo.errors import ConfigError

TaskLoss = Literal["entropy", "lm"]


@dataclass(frozen=True)
class TaskExamples:
    """Tokenized examples of one task.

    Attributes:
        name: Task name (a preference coordinate).
        loss: ``entropy`` or ``lm``.
        sequences: Token ids of prompt + targets, one tuple per example.
        prompt_lengths: Number of prompt tokens of each sequence; the rest are
            targets.
    """

    name: str
    loss: TaskLoss
    sequences: tuple[tuple[int, ...], ...]
    prompt_lengths: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.sequences)


@dataclass(frozen=True)
class Batch:
    """Right-padded tensors for one forward pass (all ``batch x seq``)."""

    input_ids: Tensor
    attention_mask: Tensor
    target_mask: Tensor


def read_prompts(
    path: Path, loss: TaskLoss, limit: int | None = None, seed: int = 0
) -> list[tuple[str, str | None]]:
    """(prompt, answer) pairs of a JSONL file, a seeded subsample of ``limit`` rows.

    Raises:
        ConfigError: the file is missing, a line is not JSON, or a row lacks
            ``prompt`` (or ``answer`` when ``loss == "lm"``); names file and line.
    """
    if not path.is_file():
        raise ConfigError(f"task data not found: {path}")
    rows: list[tuple[str, str | None]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
            raise ConfigError(f"{path}:{number}: a row needs a string 'prompt'")
        answer = row.get("answer")
        if loss == "lm" and not isinstance(answer, str):
            raise ConfigError(f"{path}:{number}: loss 'lm' needs a string 'answer' in every row")
        rows.append((row["prompt"], answer if isinstance(answer, str) else None))
    if not rows:
        raise ConfigError(f"{path}: no examples")
    if limit is not None and limit < len(rows):
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
        rows = [rows[i] for i in keep]
    return rows


def labelled_examples(
    name: str, rows: Sequence[tuple[str, str | None]], tokenizer: Any
) -> TaskExamples:
    """``lm`` examples: prompt tokens, then answer tokens and EOS as targets."""
    sequences, lengths = [], []
    for prompt, answer in rows:
        prompt_ids = list(tokenizer(prompt).input_ids)
        answer_ids = list(tokenizer(answer, add_special_tokens=False).input_ids)
        sequences.append(tuple(prompt_ids + answer_ids + [tokenizer.eos_token_id]))
        lengths.append(len(prompt_ids))
    return TaskExamples(name, "lm", tuple(sequences), tuple(lengths))


@torch.no_grad()
def unlabelled_examples(
    name: str,
    rows: Sequence[tuple[str, str | None]],
    tokenizer: Any,
    model: nn.Module,
    max_new_tokens: int = 16,
    batch_size: int = 64,
) -> TaskExamples:
    """``entropy`` examples: each prompt with the model's greedy continuation as targets.

    Generation is left-padded and stops at EOS (kept as the last target).
    """
    device = next(model.parameters()).device
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    pad = eos if pad is None else pad
    prompts = [list(tokenizer(prompt).input_ids) for prompt, _ in rows]
    sequences, lengths = [], []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in chunk], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        for prompt, generated in zip(chunk, out[:, width:].tolist()):
            continuation = []
            for token in generated:
                continuation.append(token)
                if token == eos:
                    break
            sequences.append(tuple(prompt + continuation))
            lengths.append(len(prompt))
    return TaskExamples(name, "entropy", tuple(sequences), tuple(lengths))


def collate(examples: Sequence[tuple[tuple[int, ...], int]], pad_id: int, device: Any = "cpu") -> Batch:
    """Right-pad (sequence, prompt length) pairs into one :class:`Batch`.

    Right padding keeps every real token at its natural position id, so the
    model needs no position ids of its own.
    """
    width = max(len(seq) for seq, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    targets = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (seq, prompt_length) in enumerate(examples):
        ids[row, : len(seq)] = torch.tensor(seq)
        attention[row, : len(seq)] = 1
        targets[row, prompt_length : len(seq)] = 1
    return Batch(ids.to(device), attention.to(device), targets.to(device))
