import pytest
import torch

from mmmo.errors import MergeError
from mmmo.merge.mergekit_config import group_filters, mergekit_config
from mmmo.plan import MergePlan, SourceParams, TensorGrouping
from mmmo.sources.layout import TensorLayout, TensorPlace, layout_of_module


def _resolve(setting, tensor_name):
    """mergekit's rule: the first entry whose filter is in the name (no filter: all)."""
    if not isinstance(setting, list):
        return setting
    for entry in setting:
        if entry.get("filter") is None or entry["filter"] in tensor_name:
            return entry["value"]
    raise AssertionError(f"no entry matches {tensor_name}")


def _meta_layout(model_class: str, config_class: str, **fields) -> TensorLayout:
    """The layout of a transformers model built on the meta device (no memory, no download)."""
    import transformers

    config = getattr(transformers, config_class)(**fields)
    with torch.device("meta"):
        model = getattr(transformers, model_class)(config)
    return layout_of_module(model)


LAYOUTS = {
    "llama": lambda: _meta_layout(
        "LlamaForCausalLM", "LlamaConfig", vocab_size=32, hidden_size=16, intermediate_size=32,
        num_hidden_layers=12, num_attention_heads=2, num_key_value_heads=1,
    ),
    "gpt2": lambda: _meta_layout("GPT2LMHeadModel", "GPT2Config", vocab_size=32, n_embd=16, n_layer=11, n_head=2),
    "gpt_neox": lambda: _meta_layout(
        "GPTNeoXForCausalLM", "GPTNeoXConfig", vocab_size=32, hidden_size=16, intermediate_size=32,
        num_hidden_layers=5, num_attention_heads=2,
    ),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", ["blocks", "module", "model"])
def test_filters_reproduce_tensor_groups(family, kind, tmp_path):
    layout = LAYOUTS[family]()
    grouping = TensorGrouping(kind, num_layers=layout.num_layers, blocks=4 if kind == "blocks" else 1)
    groups = grouping.group_names()
    params = {g: (SourceParams(float(i) + 0.5, 0.25 + 0.05 * i),) for i, g in enumerate(groups)}
    plan = MergePlan("ties", ("a",), params, grouping)
    config = mergekit_config(plan, tmp_path / "base", {"a": tmp_path / "a"}, layout=layout)
    setting = config["models"][0]["parameters"]
    for name, place in layout.places.items():
        group = grouping.group_of(place)
        assert _resolve(setting["weight"], name) == params[group][0].weight, name
        assert _resolve(setting["density"], name) == params[group][0].density, name
    if kind != "model":  # one filter per layer or module, not one per tensor
        assert len(setting["weight"]) < len(layout.places)


def test_names_that_defeat_module_filters_are_filtered_one_by_one(tmp_path):
    # ".self_attn." is a substring of an MLP tensor's name here, so the module filters would misplace it.
    places = {
        "model.layers.0.self_attn.q_proj.weight": TensorPlace(0, "attention"),
        "model.layers.0.mlp.self_attn.weight": TensorPlace(0, "mlp"),
        "model.layers.0.mlp.up_proj.weight": TensorPlace(0, "mlp"),
        "model.norm.weight": TensorPlace(None, "norm"),
    }
    layout = TensorLayout("llama", 1, "model.layers", places)
    grouping = TensorGrouping("module")
    assert {text for text, _ in group_filters(grouping, layout)} == {*places, None}
    params = {"attention": (SourceParams(1.0),), "mlp": (SourceParams(2.0),), "other": (SourceParams(3.0),)}
    config = mergekit_config(MergePlan("ties", ("a",), params, grouping), tmp_path, {"a": tmp_path}, layout=layout)
    for name, place in places.items():
        assert _resolve(config["models"][0]["parameters"]["weight"], name) == params[grouping.group_of(place)][0].weight


def test_computes_in_float32_and_writes_the_model_dtype(tmp_path):
    config = mergekit_config(MergePlan.uniform("ties", ("a",)), tmp_path, {"a": tmp_path}, dtype="bfloat16")
    assert (config["dtype"], config["out_dtype"]) == ("float32", "bfloat16")


def test_config_names_method_options_and_models(tmp_path):
    plan = MergePlan.uniform("breadcrumbs", ("a", "b"), weight=[0.5, 1.0], density=0.7, options={"gamma": 0.02})
    config = mergekit_config(plan, tmp_path / "base", {"a": tmp_path / "a", "b": tmp_path / "b"})
    assert config["merge_method"] == "breadcrumbs"
    assert config["base_model"] == str(tmp_path / "base")
    assert config["parameters"] == {"normalize": False, "lambda": 1.0}
    assert config["models"][1] == {
        "model": str(tmp_path / "b"),
        "parameters": {"weight": 1.0, "density": 0.7, "gamma": 0.02},
    }


def test_unknown_method_has_no_config(tmp_path):
    with pytest.raises(MergeError, match="unknown merge method"):
        mergekit_config(MergePlan.uniform("nope", ("a",)), tmp_path, {"a": tmp_path})


@pytest.fixture(scope="module")
def zoo_merger(request):
    """A merger over the demo zoo's tiny configuration (skips until ``tiny_zoo`` exists)."""
    try:
        zoo = request.getfixturevalue("tiny_zoo")
    except pytest.FixtureLookupError:
        pytest.skip("the tiny_zoo fixture is not available")
    from mmmo.merge import Merger
    from mmmo.sources import ModelPool

    return Merger(ModelPool.load(zoo.base, zoo.experts))


@pytest.mark.parametrize(
    ("method", "density", "options"),
    [
        ("linear", 1.0, {}),
        ("task_arithmetic", 1.0, {"lambda": 0.7}),
        ("ties", 0.4, {}),
        ("breadcrumbs", 0.6, {"gamma": 0.05}),
        ("model_stock", 1.0, {}),
        ("slerp", 1.0, {"t": 0.3}),
    ],
)
def test_zoo_merge_matches_mergekit(zoo_merger, mergekit_parity, tmp_path, method, density, options):
    names = zoo_merger.pool.names[:2] if method == "slerp" else zoo_merger.pool.names
    if method == "model_stock" and len(names) < 2:
        pytest.skip("model_stock needs two experts")
    weights = [0.3 + 0.2 * i for i in range(len(names))]
    plan = MergePlan.uniform(method, names, weight=weights, density=density, options=options)
    mergekit_parity(zoo_merger, plan, tmp_path)
