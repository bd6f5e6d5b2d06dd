import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM

from mmmo.errors import SourceError
from mmmo.merge import Merger
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool

STORAGES = pytest.mark.parametrize("storage", ["resident", "mmap"])


def _state(path):
    return load_file(str(path / "model.safetensors"))


def test_pool_holds_base_and_task_vectors(tiny_models, tiny_pool):
    assert tiny_pool.names == ("alpha", "beta", "gamma")
    assert tiny_pool.num_layers == 2
    assert tiny_pool.base_path == tiny_models.base.resolve()
    assert tiny_pool.tokenizer is not None and tiny_pool.tokenizer.get_vocab()["w3"] == 3
    base, alpha = _state(tiny_models.base), _state(tiny_models.experts["alpha"])
    for name, tensor in tiny_pool.base_state.items():
        assert torch.equal(tensor, base[name])
        torch.testing.assert_close(tiny_pool.delta("alpha")[name], alpha[name] - base[name])
    with pytest.raises(SourceError, match="unknown source 'omega'"):
        tiny_pool.delta("omega")


@STORAGES
def test_sharded_checkpoint_gives_same_task_vector(tiny_models, tiny_pool, storage):
    assert (tiny_models.sharded / "model.safetensors.index.json").is_file()
    pool = ModelPool.load(tiny_models.base, {"sharded": tiny_models.sharded}, storage=storage)
    for name, delta in tiny_pool.delta("alpha").items():
        assert torch.equal(pool.delta("sharded")[name], delta)


def test_sequence_of_paths_is_named_by_folder(tiny_models):
    pool = ModelPool.load(tiny_models.base, [tiny_models.experts["beta"], tiny_models.experts["gamma"]])
    assert pool.names == ("beta", "gamma")


@STORAGES
def test_lora_adapter_delta_is_its_full_rank_update(tiny_models, storage):
    from safetensors.torch import load_file as load

    pool = ModelPool.load(tiny_models.base, {"lora": tiny_models.adapter}, storage=storage)
    config = json.loads((tiny_models.adapter / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    weights = load(str(tiny_models.adapter / "adapter_model.safetensors"))
    prefix = "base_model.model.model.layers.1.self_attn.q_proj"
    a, b = weights[f"{prefix}.lora_A.weight"], weights[f"{prefix}.lora_B.weight"]
    delta = pool.delta("lora")
    torch.testing.assert_close(delta["model.layers.1.self_attn.q_proj.weight"], scale * b @ a, atol=1e-6, rtol=1e-5)
    assert float(delta["model.layers.1.self_attn.q_proj.weight"].abs().sum()) > 0
    assert float(delta["model.layers.1.mlp.up_proj.weight"].abs().sum()) == 0.0


def test_in_memory_modules_as_base_and_source(tiny_models, tiny_pool):
    base = LlamaForCausalLM.from_pretrained(tiny_models.base)
    source = LlamaForCausalLM.from_pretrained(tiny_models.experts["beta"])
    pool = ModelPool.load(base, {"beta": source})
    assert pool.base_path is None and pool.source_paths == {"beta": None}
    for name, delta in tiny_pool.delta("beta").items():
        torch.testing.assert_close(pool.delta("beta")[name], delta)
    merger = Merger(pool)
    merger.apply_source("beta")
    assert merger.model is not base


@STORAGES
def test_tied_embeddings_stay_tied(tiny_models, storage):
    pool = ModelPool.load(tiny_models.tied_base, {"t": tiny_models.tied_expert}, storage=storage)
    assert "lm_head.weight" not in pool.tensor_names
    merger = Merger(pool)
    merger.apply(MergePlan.uniform("task_arithmetic", ("t",), weight=0.5))
    model = merger.model
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    expected = pool.base_state["model.embed_tokens.weight"] + 0.5 * pool.delta("t")["model.embed_tokens.weight"]
    torch.testing.assert_close(model.lm_head.weight.detach(), expected)


def test_buffers_come_from_the_base(tiny_pool):
    merger = Merger(tiny_pool)
    before = {n: b.clone() for n, b in merger.model.named_buffers()}
    merger.apply(MergePlan.uniform("ties", tiny_pool.names, density=0.5))
    assert before and all(torch.equal(b, before[n]) for n, b in merger.model.named_buffers())


def test_missing_path_is_named(tiny_models, tmp_path):
    with pytest.raises(SourceError, match="source 'x': path .*nowhere.* does not exist"):
        ModelPool.load(tiny_models.base, {"x": tmp_path / "nowhere"})
    with pytest.raises(SourceError, match="base: path"):
        ModelPool.load(tmp_path / "nowhere", {"x": tiny_models.experts["alpha"]})


@STORAGES
def test_architecture_mismatch_is_named(tiny_models, tmp_path, storage):
    other = tmp_path / "other"
    shutil.copytree(tiny_models.experts["alpha"], other)
    config = json.loads((other / "config.json").read_text())
    config["model_type"] = "mistral"
    config["architectures"] = ["MistralForCausalLM"]
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(SourceError, match="source 'odd': architecture mismatch: model_type 'mistral'"):
        ModelPool.load(tiny_models.base, {"odd": other}, storage=storage)


def _edited_copy(tiny_models, tmp_path, edit):
    other = tmp_path / "edited"
    shutil.copytree(tiny_models.experts["alpha"], other)
    state = _state(other)
    edit(state)
    save_file(state, str(other / "model.safetensors"), metadata={"format": "pt"})
    return other


@STORAGES
def test_shape_mismatch_is_named(tiny_models, tmp_path, storage):
    name = "model.layers.1.mlp.up_proj.weight"
    path = _edited_copy(tiny_models, tmp_path, lambda s: s.__setitem__(name, torch.zeros(3, 3)))
    with pytest.raises(SourceError, match=rf"source 'bad': tensor '{name}' has shape \[3, 3\], base has \[64, 32\]"):
        ModelPool.load(tiny_models.base, {"bad": path}, storage=storage)


@STORAGES
def test_missing_tensor_is_named(tiny_models, tmp_path, storage):
    path = _edited_copy(tiny_models, tmp_path, lambda s: s.pop("model.norm.weight"))
    with pytest.raises(SourceError, match="source 'bad': missing tensor 'model.norm.weight'"):
        ModelPool.load(tiny_models.base, {"bad": path}, storage=storage)


@STORAGES
def test_untied_head_on_tied_base_is_named(tiny_models, storage):
    with pytest.raises(SourceError, match="'lm_head.weight' that the base lacks .*ties"):
        ModelPool.load(tiny_models.tied_base, {"untied": tiny_models.experts["alpha"]}, storage=storage)


@STORAGES
def test_nan_or_inf_in_a_source_is_named(tiny_models, tmp_path, storage):
    name = "model.layers.0.self_attn.v_proj.weight"

    def poison(state):
        state[name] = state[name].clone()
        state[name][0, 0] = float("nan")

    path = _edited_copy(tiny_models, tmp_path, poison)
    with pytest.raises(SourceError, match=f"source 'bad': tensor '{name}' contains NaN or inf"):
        ModelPool.load(tiny_models.base, {"bad": path}, storage=storage)


@STORAGES
def test_non_safetensors_directory_and_adapter_base_are_refused(tiny_models, tmp_path, storage):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text((tiny_models.base / "config.json").read_text())
    with pytest.raises(SourceError, match="only safetensors checkpoints"):
        ModelPool.load(tiny_models.base, {"e": tmp_path / "empty"}, storage=storage)
    with pytest.raises(SourceError, match="base: .* is a PEFT adapter"):
        ModelPool.load(tiny_models.adapter, {"a": tiny_models.experts["alpha"]}, storage=storage)


def test_pool_needs_a_source(tiny_models):
    with pytest.raises(SourceError, match="at least one source"):
        ModelPool.load(tiny_models.base, {})
