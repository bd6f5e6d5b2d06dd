"""Token sequences packed once into left-padded batches, reused every trial.

Rows are sorted by length (longest first) so a batch carries little padding
and an out-of-memory error shows on the first batch, not the last. Batches
are copied to the model's device on first use and kept there.

Two options serve generation, where the prompt pass is most of the work:

- ``batch_overhead``: cut the sorted rows where it saves padding, not every
  ``batch_size`` rows: the cut minimises padded tokens plus ``batch_overhead``
  tokens per batch (what one more batch costs: its own decoding steps);
- ``share_prefix``: the token prefix all rows of a batch share (a few-shot
  prefix, a chat template's system prompt, "Q: What is") is held once per
  batch; the rows hold the rest. The model runs the prefix once and copies
  its KV cache to every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TokenBatch:
    """One left-padded batch.

    Attributes:
        input_ids: ``B x L`` token ids, padding on the left.
        attention_mask: ``B x L``, 1 on real tokens.
        position_ids: ``B x L``, 0 at each row's first real token.
        rows: ``B`` indices of the rows in the caller's order.
        scored: ``B`` number of trailing tokens of each row that are scored
            (teacher forcing); 0 for prompts to be continued by generation.
        shared: ``S`` token ids every row starts with, held apart (``share_prefix``);
            then ``input_ids`` hold what follows them and positions start at ``S``.
            Empty otherwise.
    """

    input_ids: Tensor
    attention_mask: Tensor
    position_ids: Tensor
    rows: Tensor
    scored: Tensor
    shared: Tensor

    def to(self, device: torch.device) -> TokenBatch:
        return TokenBatch(*(t.to(device, non_blocking=True) for t in self._tensors()))

    def prompt_mask(self) -> Tensor:
        """``B x (S + L)`` attention mask of the whole rows, shared prefix included."""
        ones = torch.ones((len(self.rows), len(self.shared)), dtype=self.attention_mask.dtype)
        return torch.cat([ones.to(self.attention_mask.device), self.attention_mask], dim=1)

    def _tensors(self) -> tuple[Tensor, ...]:
        return (self.input_ids, self.attention_mask, self.position_ids, self.rows, self.scored, self.shared)


class PackedBatches:
    """Sequences packed into :class:`TokenBatch` es of at most ``batch_size`` rows.

    Args:
        sequences: One list of token ids per row (non-empty).
        pad_id: Id written into padding positions (never attended to).
        batch_size: Rows per batch (at most).
        scored: Per row, how many trailing tokens are scored; zeros if omitted.
        batch_overhead: Cut batches to minimise padding plus this many tokens
            per batch (default: a batch every ``batch_size`` rows).
        share_prefix: Hold each batch's common token prefix apart (generation
            only: no scored tokens).
    """

    def __init__(
        self,
        sequences: Sequence[Sequence[int]],
        pad_id: int,
        batch_size: int,
        scored: Sequence[int] | None = None,
        batch_overhead: int | None = None,
        share_prefix: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        scored = list(scored) if scored is not None else [0] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        self.num_rows = len(sequences)
        self.max_length = max((len(s) for s in sequences), default=0)
        if batch_overhead is None:
            chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        else:
            chunks = _padding_cuts(order, [len(sequences[i]) for i in order], batch_size, batch_overhead)
        self._cpu = [
            _pack([sequences[i] for i in chunk], chunk, [scored[i] for i in chunk], pad_id, share_prefix)
            for chunk in chunks
        ]
        self._by_device: dict[torch.device, list[TokenBatch]] = {}

    def on(self, device: torch.device) -> list[TokenBatch]:
        """The batches on ``device`` (copied there once)."""
        device = torch.device(device)
        if device not in self._by_device:
            self._by_device[device] = [b.to(device) for b in self._cpu]
        return self._by_device[device]


    def __len__(self) -> int:
        return len(self._cpu)


def _padding_cuts(order: list[int], lengths: list[int], batch_size: int, overhead: int) -> list[list[int]]:
    """``order`` (lengths descending) cut into runs of at most ``batch_size`` that
    minimise padded tokens plus ``overhead`` per run (dynamic programming)."""
    n = len(order)
    best = [0] + [float("inf")] * n  # best[i]: cost of the first i rows
    cut = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(max(0, i - batch_size), i):
            cost = best[j] + (i - j) * lengths[j] + overhead  # rows j..i-1 padded to lengths[j]
            if cost < best[i]:
                best[i], cut[i] = cost, j
    runs, i = [], n
    while i > 0:
        runs.append(order[cut[i] : i])
        i = cut[i]
    return runs[::-1]


def _shared_length(sequences: list[Sequence[int]]) -> int:
    """Length of the common prefix, leaving every row at least its last token."""
    limit = min(len(s) for s in sequences) - 1
    first = sequences[0]
    for k in range(limit):
        if any(s[k] != first[k] for s in sequences):
            return k
    return max(limit, 0)


def _pack(
    sequences: list[Sequence[int]], rows: list[int], scored: list[int], pad_id: int, share_prefix: bool = False
) -> TokenBatch:
    # A lone row gains nothing from a shared prefix: there is no one to share it with.
    shared_length = _shared_length(sequences) if share_prefix and len(sequences) > 1 else 0
    shared = torch.as_tensor(list(sequences[0][:shared_length]), dtype=torch.long)
    sequences = [s[shared_length:] for s in sequences]
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for i, seq in enumerate(sequences):
        ids[i, length - len(seq) :] = torch.as_tensor(seq, dtype=torch.long)
        mask[i, length - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0) + shared_length
    return TokenBatch(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        rows=torch.as_tensor(rows, dtype=torch.long),
        scored=torch.as_tensor(scored, dtype=torch.long),
        shared=shared,
    )


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (its input embeddings)."""
    return next(model.parameters()).device
