import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmmo.errors import SourceError
from mmmo.sources import ModelPool
from mmmo.sources.lora import adapter_delta, lora_factors
from mmmo.sources.storage_choice import SAFE_FRACTION


def _pool(tiny_models, storage, dtype=torch.float32, **extra):
    sources = {**tiny_models.experts, "lora": tiny_models.adapter, **extra}
    return ModelPool.load(tiny_models.base, sources, dtype=dtype, storage=storage)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_storage_gives_the_same_task_vectors(tiny_models, dtype):
    resident, mapped = _pool(tiny_models, "resident", dtype), _pool(tiny_models, "mmap", dtype)
    assert (resident.storage, mapped.storage) == ("resident", "mmap")
    assert resident.tensor_names == mapped.tensor_names
    for name in resident.tensor_names:
        assert torch.equal(resident.base_state[name], mapped.base_state[name])
        for source in resident.names:
            assert torch.equal(resident.delta(source)[name], mapped.delta(source)[name]), (source, name)


def test_mmap_holds_no_model_sized_tensor(tiny_models):
    resident, mapped = _pool(tiny_models, "resident"), _pool(tiny_models, "mmap")
    factors = mapped.task_vectors.held_bytes
    assert 0 < factors < 0.1 * mapped.model_bytes  # the LoRA factors only
    assert resident.task_vectors.held_bytes >= 4 * resident.model_bytes + factors
    assert mapped.task_vectors.kind("alpha") == "weights" and mapped.task_vectors.kind("lora") == "factors"


def test_16_bit_resident_pools_hold_weights_and_form_deltas_in_float32(tiny_models):
    pool = _pool(tiny_models, "resident", torch.bfloat16)
    assert pool.task_vectors.kind("alpha") == "weights"
    name = "model.layers.0.mlp.up_proj.weight"
    stored = pool.task_vectors.stored("alpha", name).tensor
    assert stored.dtype == torch.bfloat16
    expected = (stored.float() - pool.base_state[name].float()).to(torch.bfloat16)
    assert torch.equal(pool.delta("alpha")[name], expected)


def test_lora_factors_give_peft_s_own_update(tiny_models):
    pool = _pool(tiny_models, "resident")
    assert pool.task_vectors.kind("lora") == "factors"
    reference = adapter_delta(tiny_models.adapter, "lora", lambda: pool.build_model(), pool.base_state)
    for name, delta in reference.items():
        torch.testing.assert_close(pool.delta("lora")[name], delta, atol=1e-6, rtol=1e-5)
    stored = pool.task_vectors.stored("lora", "model.layers.0.mlp.up_proj.weight")
    assert stored.kind == "zero"


def _rewrite_adapter(tiny_models, tmp_path, edit_config):
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_models.adapter, adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    edit_config(config)
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    return adapter


def test_rslora_scaling_matches_peft(tiny_models, tmp_path):
    adapter = _rewrite_adapter(tiny_models, tmp_path, lambda c: c.update(use_rslora=True))
    pool = ModelPool.load(tiny_models.base, {"r": adapter}, storage="mmap")
    assert pool.task_vectors.kind("r") == "factors"
    reference = adapter_delta(adapter, "r", lambda: pool.build_model(), dict(pool.base_state))
    name = "model.layers.1.self_attn.q_proj.weight"
    torch.testing.assert_close(pool.delta("r")[name], reference[name], atol=1e-6, rtol=1e-5)


def test_adapters_beyond_plain_lora_go_through_peft(tiny_models, tmp_path):
    adapter = _rewrite_adapter(tiny_models, tmp_path, lambda c: c.update(alpha_pattern={"q_proj": 16}))
    base_shapes = {k: v.shape for k, v in load_file(str(tiny_models.base / "model.safetensors")).items()}
    assert lora_factors(adapter, "x", base_shapes) is None
    pool = ModelPool.load(tiny_models.base, {"x": adapter}, storage="mmap")
    assert pool.task_vectors.kind("x") == "delta"
    name = "model.layers.1.self_attn.q_proj.weight"
    plain = ModelPool.load(tiny_models.base, {"x": tiny_models.adapter}, storage="mmap").delta("x")[name]
    torch.testing.assert_close(pool.delta("x")[name], 2 * plain, atol=1e-6, rtol=1e-5)


def test_adapter_updating_a_tensor_the_base_lacks_is_named(tiny_models, tmp_path):
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_models.adapter, adapter)
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    renamed = {k.replace("layers.1.", "layers.7."): v for k, v in weights.items()}
    save_file(renamed, str(adapter / "adapter_model.safetensors"))
    with pytest.raises(SourceError, match="source 'x': adapter updates 'model.layers.7.self_attn.q_proj.weight'"):
        ModelPool.load(tiny_models.base, {"x": adapter}, storage="mmap")


def test_auto_picks_resident_when_it_fits_and_logs_the_choice(tiny_models, caplog):
    from mmmo.sources.loading import describe_pool

    needs = describe_pool(tiny_models.base, tiny_models.experts, torch.float32).needs
    assert needs.resident == 2 * needs.model + needs.held_sources + needs.work
    assert needs.held_sources == 3 * needs.model and needs.mmap == needs.model + needs.work
    limit = needs.resident / SAFE_FRACTION
    with caplog.at_level(logging.INFO, logger="mmmo.sources.storage_choice"):
        chosen = [
            ModelPool.load(tiny_models.base, tiny_models.experts, storage="auto", available_bytes=int(a)).storage
            for a in (100 * limit, 1.01 * limit, 0.99 * limit)
        ]
    assert chosen == ["resident", "resident", "mmap"]
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("storage auto")]
    assert len(messages) == 3 and messages[-1].startswith("storage auto: mmap (resident would take")


def test_a_storage_that_cannot_fit_is_refused_with_sizes_before_loading(tiny_models, monkeypatch):
    import mmmo.sources.loading as loading

    def no_reads(*args, **kwargs):
        raise AssertionError("a tensor was read")

    monkeypatch.setattr(loading, "load_state", no_reads)
    monkeypatch.setattr(loading, "MappedCheckpoint", no_reads)
    with pytest.raises(SourceError, match=r"storage 'resident' does not fit: it needs .* MiB .*available; storage 'mmap' would take"):
        ModelPool.load(tiny_models.base, tiny_models.experts, storage="resident", available_bytes=100_000)
    with pytest.raises(SourceError, match=r"storage 'mmap' does not fit: it needs .*model .*MiB.* available"):
        ModelPool.load(tiny_models.base, tiny_models.experts, storage="mmap", available_bytes=1000)
    with pytest.raises(SourceError, match="storage must be one of"):
        ModelPool.load(tiny_models.base, tiny_models.experts, storage="disk")


def test_in_memory_models_cannot_be_mapped(tiny_models):
    from transformers import LlamaForCausalLM

    source = LlamaForCausalLM.from_pretrained(tiny_models.experts["beta"])
    with pytest.raises(SourceError, match="storage 'mmap' needs every model as a checkpoint directory"):
        ModelPool.load(tiny_models.base, {"beta": source}, storage="mmap")
    assert ModelPool.load(tiny_models.base, {"beta": source}, storage="auto").storage == "resident"
