"""Scores of known continuations in one forward pass per batch (teacher forcing).

Each row is ``context + continuation``, left-padded, with ``scored`` = the
continuation's length. Only the last ``max(scored) + 1`` positions of a batch
go through the LM head and the log-softmax, so long contexts cost no logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mmmo.objectives.batches import PackedBatches, TokenBatch, model_device


@dataclass(frozen=True)
class ContinuationScores:
    """Per-row totals over the scored continuation tokens, in the caller's row order.

    Attributes:
        logprob: ``N`` sum of log-probabilities of the continuation tokens.
        correct: ``N`` number of continuation tokens that are the argmax prediction.
        tokens: ``N`` number of continuation tokens.
    """

    logprob: Tensor
    correct: Tensor
    tokens: Tensor


@torch.inference_mode()
def score_continuations(model: Any, batches: PackedBatches) -> ContinuationScores:
    """Teacher-forced log-probabilities and argmax hits of every row's continuation."""
    logprob = torch.zeros(batches.num_rows, dtype=torch.float64)
    correct = torch.zeros(batches.num_rows, dtype=torch.long)
    tokens = torch.zeros(batches.num_rows, dtype=torch.long)
    for batch in batches.on(model_device(model)):
        logits, targets, scored = continuation_logits(model, batch)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        target_log_probs = log_probs.gather(-1, targets[..., None]).squeeze(-1)
        hits = logits.argmax(dim=-1) == targets
        rows = batch.rows.cpu()
        logprob[rows] = (target_log_probs * scored).sum(-1).double().cpu()
        correct[rows] = (hits & scored).sum(-1).cpu()
        tokens[rows] = batch.scored.cpu()
    return ContinuationScores(logprob=logprob, correct=correct, tokens=tokens)


def continuation_logits(model: Any, batch: TokenBatch) -> tuple[Tensor, Tensor, Tensor]:
    """One teacher-forced forward pass over the window that holds every scored token.

    Returns:
        ``logits`` (``B x W x V``, the predictions of the window's tokens),
        ``targets`` (``B x W``, the tokens themselves) and ``scored``
        (``B x W``, True on the tokens row ``b`` scores: its last ``scored[b]``),
        where ``W = max(batch.scored)``.
    """
    keep = int(batch.scored.max()) + 1
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        logits_to_keep=keep,
    ).logits[:, :-1]  # B x (keep - 1) x V: predictions of the last keep - 1 tokens
    targets = batch.input_ids[:, -(keep - 1) :]  # B x (keep - 1)
    offsets = torch.arange(keep - 1, device=targets.device)
    scored = offsets[None, :] >= (keep - 1 - batch.scored)[:, None]  # B x (keep - 1)
    return logits, targets, scored


def pack_continuations(
    contexts: list[list[int]], continuations: list[list[int]], pad_id: int, batch_size: int
) -> PackedBatches:
    """``context + continuation`` rows, each scoring its continuation."""
    return PackedBatches(
        [c + t for c, t in zip(contexts, continuations, strict=True)],
        pad_id,
        batch_size,
        scored=[len(t) for t in continuations],
    )
