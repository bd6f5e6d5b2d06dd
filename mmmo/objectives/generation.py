"""Greedy decoding of a prompt batch over one KV cache, certification included.

One prompt batch goes through the model once (the prefill). Its KV cache then
serves, in turn:

1. certification (optional): the prompt pass already gives each row's first
   token, which rules out most certificates of a poor model for free; the
   others (:mod:`~mmmo.objectives.certification`) are fed as one
   teacher-forced chunk on a copy of their rows' prompt cache, so no prompt
   runs twice;
2. decoding of the rows not certified, token by token. A row stops at EOS or
   once its text holds a stop string, and a stopped row leaves the batch: its
   KV cache rows are dropped, so no step is spent on a finished row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from transformers import DynamicCache

from mmmo.objectives.batches import TokenBatch
from mmmo.objectives.certification import CertificateBatch, certificates_hold, first_step_holds

#: ``stopped(token_lists)``: whether each generated token list has ended otherwise than by EOS.
Stopped = Callable[[list[list[int]]], list[bool]]


@dataclass(frozen=True)
class BatchOutput:
    """What one prompt batch produced, in the batch's row order.

    Attributes:
        certified: ``B`` rows proved right without decoding.
        generated: ``B x T`` greedy tokens of the decoded rows, ``pad_id`` after a
            row's end (and on certified rows); a row's EOS, when it has one, is kept.
        prefill_seconds: Wall time of the prompts' pass.
        certify_seconds: Wall time of the certification pass (0 when none).
        decode_seconds: Wall time of decoding after the prefill.
    """

    certified: Tensor
    generated: Tensor
    prefill_seconds: float
    certify_seconds: float
    decode_seconds: float


@torch.inference_mode()
def decode_batch(
    model: Any,
    batch: TokenBatch,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    stopped: Stopped | None = None,
    certificates: CertificateBatch | None = None,
) -> BatchOutput:
    """Certify (when ``certificates`` are given) and greedily decode one batch."""
    start = time.perf_counter()
    size = batch.input_ids.shape[0]
    cache = DynamicCache(config=model.config)
    prompt_mask = batch.prompt_mask()  # B x (S + L)
    if len(batch.shared):
        # The prefix every row shares runs once; its KV cache is copied to every row.
        model(input_ids=batch.shared[None], past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache.batch_repeat_interleave(size)
    padded = not bool(prompt_mask.all())
    first = model(
        input_ids=batch.input_ids,
        attention_mask=prompt_mask if padded else None,
        position_ids=batch.position_ids,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits[:, -1]  # B x V: each row's first generated token
    certified = torch.zeros(size, dtype=torch.bool, device=first.device)
    # Each phase is timed apart: the certification policy weighs the pass against the decoding it saves.
    prefill_seconds = _synced(first) - start
    certify_seconds = 0.0
    if certificates is not None:
        certify_start = time.perf_counter()
        certified = _certify(model, cache, batch, prompt_mask, first, certificates)
        certify_seconds = _synced(certified) - certify_start
    decode_start = time.perf_counter()
    active = (~certified).nonzero().flatten()
    generated = torch.full((size, max_new_tokens), pad_id, dtype=torch.long, device=first.device)
    if len(active):
        if len(active) < size:
            cache.batch_select_indices(active)
        _greedy(model, cache, batch, prompt_mask, first, active, generated, eos_id, stopped)
    generated = generated.cpu()
    return BatchOutput(
        certified.cpu(), generated, prefill_seconds, certify_seconds, time.perf_counter() - decode_start
    )


def _synced(tensor: Tensor) -> float:
    """The time once ``tensor`` is computed (the device may run ahead of the host)."""
    if tensor.device.type == "cuda":
        torch.cuda.synchronize(tensor.device)
    elif tensor.device.type != "cpu":
        tensor.cpu()
    return time.perf_counter()


def _certify(
    model: Any,
    cache: DynamicCache,
    batch: TokenBatch,
    prompt_mask: Tensor,
    first: Tensor,
    certificates: CertificateBatch,
) -> Tensor:
    """``B`` rows with a certificate that holds. Only certificates whose first
    token the prompt pass already confirms are fed, on a copy of their rows'
    prompt cache; ``cache`` is left as it was, for decoding."""
    holds = torch.zeros(len(certificates.rows), dtype=torch.bool, device=first.device)
    plausible = first_step_holds(first[certificates.rows], certificates).nonzero().flatten()
    if len(plausible):
        fed = certificates.subset(plausible)
        width = int(fed.lengths.max())
        logits = first[fed.rows, None]  # F x 1 x V
        if width:
            prefix = fed.prefix[:, :width]
            positions = batch.position_ids[fed.rows, -1:] + 1 + torch.arange(width, device=first.device)
            prefix_mask = torch.arange(width, device=first.device)[None, :] < fed.lengths[:, None]
            # One cache row per certificate fed: a copy, so the prompt cache stays whole.
            copy = DynamicCache([(layer.keys[fed.rows], layer.values[fed.rows]) for layer in cache.layers], config=model.config)
            chunk = model(
                input_ids=prefix,
                attention_mask=torch.cat([prompt_mask[fed.rows], prefix_mask.long()], dim=1),
                position_ids=positions,
                past_key_values=copy,
                use_cache=True,
            ).logits  # F x W x V
            logits = torch.cat([logits, chunk], dim=1)  # F x (W + 1) x V
        holds[plausible] = certificates_hold(logits, _narrowed(fed, width))
    certified = torch.zeros(len(certificates.first), dtype=torch.long, device=first.device)
    certified.index_add_(0, certificates.rows, holds.long())
    return certified > 0


def _narrowed(certificates: CertificateBatch, width: int) -> CertificateBatch:
    """The certificates with their prefix tensor cut to ``width`` columns (its padding beyond)."""
    return CertificateBatch(
        certificates.rows,
        certificates.first,
        certificates.prefix[:, :width],
        certificates.lengths,
        certificates.endings,
        certificates.capped,
    )


def _greedy(
    model: Any,
    cache: DynamicCache,
    batch: TokenBatch,
    prompt_mask: Tensor,
    first: Tensor,
    active: Tensor,
    generated: Tensor,
    eos_id: int,
    stopped: Stopped | None,
) -> None:
    """Decode the ``active`` rows into ``generated``; ``cache`` and ``first`` hold
    those rows' prompts (cache) and all rows' first-token logits."""
    prompt_length = prompt_mask.shape[1]
    max_new_tokens = generated.shape[1]
    device = first.device
    # One mask for the whole run, sliced each step, instead of a cat per token.
    mask = torch.ones((len(active), prompt_length + max_new_tokens), dtype=torch.long, device=device)
    mask[:, :prompt_length] = prompt_mask[active]
    if _takes_boolean_4d_mask(model.config):
        # A ready mask (True = attend) skips transformers' mask construction at
        # every step, a large share of a step's cost on small models. The one
        # query of a step may see every unpadded key, so no causal part is needed.
        mask = mask.bool()[:, None, None, :]  # A x 1 x 1 x (P + T)
    padded = not bool(mask[..., :prompt_length].all())
    positions = batch.position_ids[active, -1:]
    logits = first[active]
    for step in range(max_new_tokens):
        next_ids = logits.argmax(dim=-1)  # A
        generated[active, step] = next_ids
        done = next_ids == eos_id
        if stopped is not None:
            done |= torch.tensor(stopped(generated[active, : step + 1].tolist()), dtype=torch.bool, device=device)
        if step + 1 == max_new_tokens:
            break
        # One host sync per token; a finished row leaves the batch and its cache.
        if bool(done.any()):
            keep = (~done).nonzero().flatten()
            if not len(keep):
                break
            active, next_ids, positions, mask = active[keep], next_ids[keep], positions[keep], mask[keep]
            cache.batch_select_indices(keep)
            padded = padded and not bool(mask[..., :prompt_length].all())
        positions = positions + 1
        logits = model(
            input_ids=next_ids[:, None],
            attention_mask=mask[..., : prompt_length + step + 1] if padded else None,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        ).logits[:, -1]


def _takes_boolean_4d_mask(config: Any) -> bool:
    """Whether the model's attention reads a 4D boolean mask as given: SDPA
    attention with every layer attending to the full context (no sliding window)."""
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    if getattr(config, "sliding_window", None) is not None:
        return False
    layer_types = getattr(config, "layer_types", None) or ["full_attention"]
    return all(kind == "full_attention" for kind in layer_types)
