import pytest

from mmmo.errors import MergeError
from mmmo.merge.mergekit_config import mergekit_config
from mmmo.plan import MergePlan, SourceParams, TensorGrouping


def _resolve(setting, tensor_name):
    """mergekit's rule: the first entry whose filter is in the name (no filter: all)."""
    if not isinstance(setting, list):
        return setting
    for entry in setting:
        if entry.get("filter") is None or entry["filter"] in tensor_name:
            return entry["value"]
    raise AssertionError(f"no entry matches {tensor_name}")


@pytest.mark.parametrize(
    "grouping",
    [TensorGrouping("blocks", num_layers=12, blocks=5), TensorGrouping("module"), TensorGrouping()],
)
def test_filters_reproduce_tensor_groups(grouping, tmp_path):
    groups = grouping.group_names()
    params = {g: (SourceParams(float(i) + 0.5, 0.25 + 0.05 * i),) for i, g in enumerate(groups)}
    plan = MergePlan("ties", ("a",), params, grouping)
    config = mergekit_config(plan, tmp_path / "base", {"a": tmp_path / "a"})
    setting = config["models"][0]["parameters"]
    modules = ("self_attn.q_proj.weight", "mlp.up_proj.weight", "input_layernorm.weight")
    names = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"] + [
        f"model.layers.{i}.{m}" for i in range(12) for m in modules
    ]
    for name in names:
        group = grouping.group_of(name)
        assert _resolve(setting["weight"], name) == params[group][0].weight, name
        assert _resolve(setting["density"], name) == params[group][0].density, name


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
