"""Training of the zoo's models: a plain AdamW loop on prompt/answer pairs.

Each example is encoded as the tokenization convention every objective uses:
``tokenizer(prompt)`` (``<s>`` first), then the answer's characters and
``</s>``. The loss covers the answer and ``</s>`` only, so the model learns to
answer, not to predict prompts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from mmmo.zoo.tasks import Example

IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedExamples:
    """Right-padded token ids of a list of examples.

    Attributes:
        input_ids: ``n x L`` prompt + answer + ``</s>`` ids, ``<pad>`` after.
        labels: ``n x L`` the same ids on answer positions, ``-100`` elsewhere.
        lengths: ``n`` number of real tokens per row.
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask, labels)`` of rows ``index``, cut to their longest row."""
        width = int(self.lengths[index].max())
        ids = self.input_ids[index, :width]
        mask = (torch.arange(width)[None, :] < self.lengths[index, None]).long()
        return ids, mask, self.labels[index, :width]


def encode_examples(examples: Sequence[Example], tokenizer: PreTrainedTokenizerFast) -> EncodedExamples:
    prompts = tokenizer([e.prompt for e in examples]).input_ids
    answers = tokenizer([e.answer for e in examples], add_special_tokens=False).input_ids
    rows = [(p, a + [tokenizer.eos_token_id]) for p, a in zip(prompts, answers, strict=True)]
    width = max(len(p) + len(a) for p, a in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    lengths = torch.empty(len(rows), dtype=torch.long)
    for i, (prompt, answer) in enumerate(rows):
        n = len(prompt) + len(answer)
        input_ids[i, :n] = torch.tensor(prompt + answer)
        labels[i, len(prompt) : n] = torch.tensor(answer)
        lengths[i] = n
    return EncodedExamples(input_ids, labels, lengths)


def new_model(
    tokenizer: PreTrainedTokenizerFast,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    intermediate_size: int,
    max_positions: int,
    seed: int,
) -> LlamaForCausalLM:
    """A freshly initialised Llama model over the tokenizer's vocabulary."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # Separate input and output embeddings: each is merged as its own tensor.
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def train(
    model: LlamaForCausalLM,
    data: EncodedExamples,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    weight_decay: float = 0.0,
    replay: EncodedExamples | None = None,
    replay_fraction: float = 0.0,
    progress: object | None = None,
) -> list[float]:
    """Train ``model`` in place; returns the loss of every step.

    Batches are drawn with replacement from ``data`` by a generator seeded
    with ``seed``; ``replay_fraction`` of each batch comes from ``replay``.
    The learning rate warms up over the first 5% of steps and then follows a
    cosine to zero. ``progress`` is a tqdm bar advanced once per step.
    """
    generator = torch.Generator().manual_seed(seed)
    n_replay = round(batch_size * replay_fraction) if replay is not None else 0
    n_main = batch_size - n_replay
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, 0.5 * (1 + math.cos(math.pi * step / steps))),
    )
    model.train()
    losses = []
    for _ in range(steps):
        ids, mask, labels = data.batch(torch.randint(len(data), (n_main,), generator=generator))
        loss = _loss(model, ids, mask, labels) * n_main
        if n_replay:
            index = torch.randint(len(replay), (n_replay,), generator=generator)
            loss = loss + _loss(model, *replay.batch(index)) * n_replay
        loss = loss / batch_size
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return losses


def _loss(model: LlamaForCausalLM, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids, attention_mask=mask, labels=labels).loss
