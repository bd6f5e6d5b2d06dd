"""Token sequences packed once into left-padded batches, reused every trial.

Rows are sorted by length (longest first) so a batch carries little padding
and an out-of-memory error shows on the first batch, not the last. Batches
are copied to the model's device on first use and kept there.
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
    """

    input_ids: Tensor
    attention_mask: Tensor
    position_ids: Tensor
    rows: Tensor
    scored: Tensor

    def to(self, device: torch.device) -> TokenBatch:
        return TokenBatch(*(t.to(device, non_blocking=True) for t in self._tensors()))

    def _tensors(self) -> tuple[Tensor, ...]:
        return (self.input_ids, self.attention_mask, self.position_ids, self.rows, self.scored)


class PackedBatches:
    """Sequences packed into :class:`TokenBatch` es of at most ``batch_size`` rows.

    Args:
        sequences: One list of token ids per row (non-empty).
        pad_id: Id written into padding positions (never attended to).
        batch_size: Rows per batch.
        scored: Per row, how many trailing tokens are scored; zeros if omitted.
    """

    def __init__(
        self,
        sequences: Sequence[Sequence[int]],
        pad_id: int,
        batch_size: int,
        scored: Sequence[int] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        scored = list(scored) if scored is not None else [0] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        self.num_rows = len(sequences)
        self.max_length = max((len(s) for s in sequences), default=0)
        self._cpu = [
            _pack([sequences[i] for i in chunk], chunk, [scored[i] for i in chunk], pad_id)
            for chunk in (order[i : i + batch_size] for i in range(0, len(order), batch_size))
        ]
        self._by_device: dict[torch.device, list[TokenBatch]] = {}

    def on(self, device: torch.device) -> list[TokenBatch]:
        """The batches on ``device`` (copied there once)."""
        device = torch.device(device)
        if device not in self._by_device:
            self._by_device[device] = [b.to(device) for b in self._cpu]
        return self._by_device[device]


def _pack(sequences: list[Sequence[int]], rows: list[int], scored: list[int], pad_id: int) -> TokenBatch:
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for i, seq in enumerate(sequences):
        ids[i, length - len(seq) :] = torch.as_tensor(seq, dtype=torch.long)
        mask[i, length - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return TokenBatch(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        rows=torch.as_tensor(rows, dtype=torch.long),
        scored=torch.as_tensor(scored, dtype=torch.long),
    )


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (its input embeddings)."""
    return next(model.parameters()).device
