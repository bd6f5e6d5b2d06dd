from __future__ import annotations

import json

import pytest
import torch

from mmmo.errors import ZooError
from mmmo.realzoo.convert import convert_gguf

from tiny_gguf import requires_gguf, write_tiny_gguf

pytestmark = requires_gguf


def _load(folder, **kwargs):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, **kwargs).eval()


def test_converted_checkpoint_gives_the_gguf_models_logits_bit_for_bit(tiny_gguf, tmp_path):
    path, tensors = tiny_gguf
    out = convert_gguf(path, tmp_path / "hf")
    assert (out / "model.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config  # loads without the gguf package
    ids = torch.tensor([[4, 6, 3, 28, 3, 9, 10, 7, 5, 6]])
    with torch.no_grad():
        expected = _load(path.parent, gguf_file=path.name)(ids).logits
        saved = _load(out)
        assert torch.equal(saved(ids).logits, expected)
    # Values the GGUF stored as float32 arrive unchanged (the embedding is not permuted).
    assert torch.equal(saved.model.embed_tokens.weight, torch.from_numpy(tensors["token_embd.weight"]))
    assert saved.config.tie_word_embeddings
    assert saved.lm_head.weight.data_ptr() == saved.model.embed_tokens.weight.data_ptr()


def test_converted_checkpoint_loads_in_bfloat16(tiny_gguf, tmp_path):
    path, _ = tiny_gguf
    out = convert_gguf(path, tmp_path / "hf")
    full, half = _load(out), _load(out, dtype=torch.bfloat16)
    assert half.model.embed_tokens.weight.dtype == torch.bfloat16
    ids = torch.tensor([[4, 6, 3, 9]])
    with torch.no_grad():
        assert torch.allclose(half(ids).logits.float(), full(ids).logits, atol=0.1)


def test_converted_tokenizer_keeps_the_special_tokens(tiny_gguf, tmp_path):
    from transformers import AutoTokenizer

    path, _ = tiny_gguf
    tokenizer = AutoTokenizer.from_pretrained(convert_gguf(path, tmp_path / "hf"))
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id == 2
    ids = tokenizer("Q: ab 12\nA:").input_ids
    assert tokenizer.convert_tokens_to_ids("ab") in ids  # the merge is applied
    assert tokenizer.decode(ids) == "Q: ab 12\nA:"


def test_untied_output_head_is_saved(tmp_path):
    path = tmp_path / "untied.gguf"
    tensors = write_tiny_gguf(path, seed=1, tied=False)
    saved = _load(convert_gguf(path, tmp_path / "hf"))
    assert not saved.config.tie_word_embeddings
    assert torch.equal(saved.lm_head.weight, torch.from_numpy(tensors["output.weight"]))


def test_missing_or_unreadable_gguf_is_a_clear_error(tmp_path):
    with pytest.raises(ZooError, match="not found"):
        convert_gguf(tmp_path / "absent.gguf", tmp_path / "hf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(ZooError, match="bad.gguf"):
        convert_gguf(bad, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()
