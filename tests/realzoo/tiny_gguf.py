"""A tiny Llama model written as a GGUF file with the ``gguf`` package (test fixture)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

requires_gguf = pytest.mark.skipif(
    importlib.util.find_spec("gguf") is None, reason="needs the 'gguf' package (the 'real' extra)"
)

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Byte-level BPE pieces: printable ASCII stands for itself, "Ġ" for a space and
# "Ċ" for a newline (GPT-2's byte mapping); and one merge.
PIECES = ["Ġ", "Ċ", *(chr(c) for c in range(33, 127)), "ab"]
MERGES = ["a b"]
HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 16, 32, 2, 4, 2


def write_tiny_gguf(path: Path, seed: int = 0, tied: bool = True) -> dict[str, np.ndarray]:
    """Write the model to ``path``; returns its tensors by GGUF name (float32)."""
    import gguf

    tokens = SPECIAL + PIECES
    rng = np.random.default_rng(seed)
    head_dim = HIDDEN // HEADS
    shapes = {"token_embd.weight": (len(tokens), HIDDEN), "output_norm.weight": (HIDDEN,)}
    if not tied:
        shapes["output.weight"] = (len(tokens), HIDDEN)
    for i in range(LAYERS):
        shapes.update(
            {
                f"blk.{i}.attn_norm.weight": (HIDDEN,),
                f"blk.{i}.attn_q.weight": (HIDDEN, HIDDEN),
                f"blk.{i}.attn_k.weight": (KV_HEADS * head_dim, HIDDEN),
                f"blk.{i}.attn_v.weight": (KV_HEADS * head_dim, HIDDEN),
                f"blk.{i}.attn_output.weight": (HIDDEN, HIDDEN),
                f"blk.{i}.ffn_norm.weight": (HIDDEN,),
                f"blk.{i}.ffn_gate.weight": (FFN, HIDDEN),
                f"blk.{i}.ffn_up.weight": (FFN, HIDDEN),
                f"blk.{i}.ffn_down.weight": (HIDDEN, FFN),
            }
        )
    # Norm weights near 1, matrices small: a well-behaved forward pass.
    tensors = {
        name: (1.0 + 0.1 * rng.standard_normal(shape) if len(shape) == 1 else 0.2 * rng.standard_normal(shape))
        for name, shape in shapes.items()
    }
    tensors = {name: array.astype(np.float32) for name, array in tensors.items()}
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny test llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(256)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_rope_dimension_count(head_dim)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIAL) + [1] * len(PIECES))
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return tensors
