import json

import pytest
import torch
import transformers

from mmmo.errors import LayoutError, SourceError
from mmmo.sources.layout import TensorLayout, TensorPlace, layout_of_checkpoint, layout_of_module

LAYERS = 3
_DECODER = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=LAYERS,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)

# family -> (model class, config class, config fields, {tensor name: expected place})
FAMILIES = {
    "llama": (
        "LlamaForCausalLM",
        "LlamaConfig",
        _DECODER,
        {
            "model.embed_tokens.weight": TensorPlace(None, "embedding"),
            "model.layers.0.self_attn.q_proj.weight": TensorPlace(0, "attention"),
            "model.layers.2.mlp.down_proj.weight": TensorPlace(2, "mlp"),
            "model.layers.1.post_attention_layernorm.weight": TensorPlace(1, "norm"),
            "model.norm.weight": TensorPlace(None, "norm"),
            "lm_head.weight": TensorPlace(None, "head"),
        },
    ),
    "mistral": (
        "MistralForCausalLM",
        "MistralConfig",
        _DECODER,
        {
            "model.layers.1.self_attn.o_proj.weight": TensorPlace(1, "attention"),
            "model.layers.0.mlp.gate_proj.weight": TensorPlace(0, "mlp"),
            "lm_head.weight": TensorPlace(None, "head"),
        },
    ),
    "qwen2": (
        "Qwen2ForCausalLM",
        "Qwen2Config",
        _DECODER,
        {
            "model.layers.2.self_attn.q_proj.bias": TensorPlace(2, "attention"),
            "model.layers.2.input_layernorm.weight": TensorPlace(2, "norm"),
        },
    ),
    "qwen3": (
        "Qwen3ForCausalLM",
        "Qwen3Config",
        {**_DECODER, "head_dim": 8},
        {
            "model.layers.1.self_attn.q_norm.weight": TensorPlace(1, "attention"),
            "model.layers.1.self_attn.k_proj.weight": TensorPlace(1, "attention"),
            "model.layers.0.mlp.up_proj.weight": TensorPlace(0, "mlp"),
        },
    ),
    "gemma2": (
        "Gemma2ForCausalLM",
        "Gemma2Config",
        {**_DECODER, "head_dim": 8},
        {
            "model.layers.0.pre_feedforward_layernorm.weight": TensorPlace(0, "norm"),
            "model.layers.2.post_feedforward_layernorm.weight": TensorPlace(2, "norm"),
            "model.layers.1.mlp.gate_proj.weight": TensorPlace(1, "mlp"),
            "model.embed_tokens.weight": TensorPlace(None, "embedding"),
        },
    ),
    "gemma3_text": (
        "Gemma3ForCausalLM",
        "Gemma3TextConfig",
        {**_DECODER, "head_dim": 8},
        {
            "model.layers.2.self_attn.k_norm.weight": TensorPlace(2, "attention"),
            "model.layers.0.post_attention_layernorm.weight": TensorPlace(0, "norm"),
            "model.norm.weight": TensorPlace(None, "norm"),
        },
    ),
    "phi3": (
        "Phi3ForCausalLM",
        "Phi3Config",
        {**_DECODER, "num_key_value_heads": 4, "pad_token_id": 0},
        {
            "model.layers.1.self_attn.qkv_proj.weight": TensorPlace(1, "attention"),
            "model.layers.1.mlp.gate_up_proj.weight": TensorPlace(1, "mlp"),
            "lm_head.weight": TensorPlace(None, "head"),
        },
    ),
    "gpt_neox": (
        "GPTNeoXForCausalLM",
        "GPTNeoXConfig",
        {k: v for k, v in _DECODER.items() if k != "num_key_value_heads"},
        {
            "gpt_neox.embed_in.weight": TensorPlace(None, "embedding"),
            "gpt_neox.layers.0.attention.query_key_value.weight": TensorPlace(0, "attention"),
            "gpt_neox.layers.2.mlp.dense_4h_to_h.bias": TensorPlace(2, "mlp"),
            "gpt_neox.layers.1.post_attention_layernorm.weight": TensorPlace(1, "norm"),
            "gpt_neox.final_layer_norm.bias": TensorPlace(None, "norm"),
            "lm_head.weight": TensorPlace(None, "head"),
        },
    ),
    "gpt2": (
        "GPT2LMHeadModel",
        "GPT2Config",
        dict(vocab_size=64, n_embd=32, n_layer=LAYERS, n_head=4, n_positions=64),
        {
            "transformer.wte.weight": TensorPlace(None, "embedding"),
            "transformer.wpe.weight": TensorPlace(None, "embedding"),
            "transformer.h.0.attn.c_attn.weight": TensorPlace(0, "attention"),
            "transformer.h.2.mlp.c_proj.bias": TensorPlace(2, "mlp"),
            "transformer.h.1.ln_2.weight": TensorPlace(1, "norm"),
            "transformer.ln_f.weight": TensorPlace(None, "norm"),
        },
    ),
}


def tiny_model(family: str):
    model_class, config_class, fields, _ = FAMILIES[family]
    torch.manual_seed(0)
    config = getattr(transformers, config_class)(**fields)
    return getattr(transformers, model_class)(config)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_tensor_of_each_family_has_a_layer_and_role(family):
    model = tiny_model(family)
    layout = layout_of_module(model)
    names = [n for n, _ in model.named_parameters(remove_duplicate=True)]
    assert list(layout.places) == names
    assert layout.num_layers == LAYERS
    assert layout.model_type == model.config.model_type
    for name, expected in FAMILIES[family][3].items():
        assert layout.place(name) == expected, name
    for layer in range(LAYERS):
        in_layer = {n: p for n, p in layout.places.items() if p.layer == layer}
        assert {p.role for p in in_layer.values()} == {"attention", "mlp", "norm"}, layer
        assert all(n.startswith(layout.layer_start(layer)) for n in in_layer)
    outside = {p.role for p in layout.places.values() if p.layer is None}
    assert {"embedding", "norm"} <= outside
    # A tied output head is the embedding itself, not a tensor of its own.
    assert ("head" in outside) == (not model.config.tie_word_embeddings)


def test_layout_of_a_checkpoint_reads_headers_only(tmp_path):
    model = tiny_model("qwen2")
    model.save_pretrained(tmp_path / "qwen", max_shard_size="20KB")
    assert (tmp_path / "qwen" / "model.safetensors.index.json").is_file()
    layout = layout_of_checkpoint(tmp_path / "qwen")
    assert layout.places == layout_of_module(model).places


def test_unplaceable_tensors_are_refused_by_name():
    model = tiny_model("llama")
    names = [n for n, _ in model.named_parameters()]
    strange = ["model.layers.1.router.weight", "vision_tower.patch_embed.weight"]
    with pytest.raises(LayoutError, match=r"cannot place 2 tensor\(s\).*layers\.1\.router.*vision_tower") as error:
        TensorLayout.build(model.config, [*names, *strange])
    assert isinstance(error.value, SourceError)  # callers that catch source errors still do


def test_a_second_layer_list_is_not_taken_for_the_decoder():
    model = tiny_model("llama")
    names = [n for n, _ in model.named_parameters()]
    with pytest.raises(LayoutError, match="vision_tower.encoder.layers.0.mlp.fc1.weight"):
        TensorLayout.build(model.config, [*names, "vision_tower.encoder.layers.0.mlp.fc1.weight"])


def test_layer_count_must_match_the_config():
    model = tiny_model("llama")
    names = [n for n in (n for n, _ in model.named_parameters()) if ".layers.2." not in n]
    with pytest.raises(LayoutError, match="3 decoder layers"):
        TensorLayout.build(model.config, names)


def test_unknown_name_and_unreadable_header_are_clear_errors(tmp_path):
    layout = layout_of_module(tiny_model("gpt2"))
    with pytest.raises(LayoutError, match="model.layers.0.mlp.up_proj.weight"):
        layout.place("model.layers.0.mlp.up_proj.weight")
    model = tiny_model("gpt2")
    model.save_pretrained(tmp_path / "gpt2")
    weights = tmp_path / "gpt2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:8] + b"{not json")
    with pytest.raises(SourceError, match="model.safetensors"):
        layout_of_checkpoint(tmp_path / "gpt2")
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({"nonsense": 1}))
    with pytest.raises(SourceError, match="config"):
        layout_of_checkpoint(tmp_path / "gpt2")
