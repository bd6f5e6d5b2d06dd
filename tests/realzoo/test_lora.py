from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from mmmo.realzoo.bigbench import parse_task
from mmmo.realzoo.config import LLAMA_PROJECTIONS
from mmmo.realzoo.convert import convert_gguf
from mmmo.realzoo.lora import LoraSettings, save_adapter, train_lora
from mmmo.sources import ModelPool

from conftest import addition_task
from tiny_gguf import requires_gguf

pytestmark = requires_gguf

SETTINGS = LoraSettings(rank=2, alpha=4, target_modules=LLAMA_PROJECTIONS, steps=6, lr=1e-2, batch_size=4)


@pytest.fixture
def tiny_base(tiny_gguf, tmp_path):
    return convert_gguf(tiny_gguf[0], tmp_path / "base")


def _train(base_dir, seed, out):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model, losses = train_lora(base, tokenizer, parse_task(addition_task(20), "t"), SETTINGS, seed)
    save_adapter(model, out)
    frozen = model.get_base_model().state_dict()
    assert all(torch.equal(frozen[k], v) for k, v in before.items() if k in frozen)  # only the adapter trains
    return load_file(out / "adapter_model.safetensors"), losses


def test_training_is_deterministic_for_a_seed(tiny_base, tmp_path):
    first, losses = _train(tiny_base, 7, tmp_path / "a")
    again, losses_again = _train(tiny_base, 7, tmp_path / "b")
    other, _ = _train(tiny_base, 8, tmp_path / "c")
    assert len(losses) == SETTINGS.steps and losses == losses_again
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)
    # Every projection of every layer has its two factors.
    assert len(first) == 2 * len(LLAMA_PROJECTIONS) * 2


def test_saved_adapter_is_a_source_mmmo_can_merge(tiny_base, tmp_path):
    _train(tiny_base, 0, tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] is None  # no build-machine path
    assert config["lora_dropout"] == 0.0
    pool = ModelPool.load(tiny_base, {"addition": tmp_path / "adapter"})
    delta = pool.delta("addition")
    changed = {name for name, tensor in delta.items() if tensor.abs().max() > 0}
    assert "model.layers.0.self_attn.q_proj.weight" in changed
    assert not any("norm" in name or "embed" in name for name in changed)
