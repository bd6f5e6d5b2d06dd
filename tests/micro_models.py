"""The micro models several suites merge: a random Llama base and two perturbed copies."""

from __future__ import annotations

from pathlib import Path

import torch


def save_micro_models(root: Path, num_layers: int):
    """Save ``base``, ``a`` and ``b`` under ``root``; return their ``LlamaConfig``.

    ``a`` and ``b`` are the base plus seeded random deltas, so merges of them
    differ from the base and from each other; each folder holds the zoo's
    tokenizer, so the models read the zoo's answer files.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    from mmmo.zoo import build_tokenizer

    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=num_layers, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    base = LlamaForCausalLM(config)
    for name in ("base", "a", "b"):
        model = LlamaForCausalLM(config)
        model.load_state_dict(base.state_dict())
        if name != "base":
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.05 * torch.randn_like(parameter))
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return config
