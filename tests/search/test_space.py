import math

import pytest
import torch

from mmmo.config import SpaceConfig, load_space
from mmmo.errors import ConfigError
from mmmo.plan import MergePlan
from mmmo.search.space import SearchSpace
from mmmo.sources.layout import TensorLayout, TensorPlace

SOURCES = ("math", "code", "chat")


def space(**fields) -> SpaceConfig:
    return SpaceConfig.model_validate(fields)


@pytest.mark.parametrize("preset", ["task_arithmetic", "ties", "dare_ties", "dare_ties_blocks4", "ties_module",
                                    "dare_ties_layers", "ties_layers_module", "dare_ties_layer_weights"])
def test_presets_load_and_round_trip(preset):
    search = SearchSpace(load_space(preset), SOURCES, num_layers=8)
    x = torch.rand(search.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    plan = search.decode(x, seed=7)
    assert plan.seed == 7 and plan.sources == SOURCES
    assert torch.allclose(search.encode(plan), x, atol=1e-12)
    bounds = load_space(preset).parameters["weight"]
    assert bounds.high >= 1.5


def test_layout_and_names_blocks():
    search = SearchSpace(space(method="dare_ties", granularity={"blocks": 2},
                               parameters={"weight": [0, 2], "density": [0.2, 1]}), SOURCES, 4)
    assert search.dim == 4 * 3 * 2  # (embed, block0, block1, head) x sources x (weight, density)
    assert search.parameter_names[:3] == ("weight[embed][math]", "density[embed][math]", "weight[embed][code]")
    x = torch.zeros(search.dim, dtype=torch.float64)
    x[search.parameter_names.index("weight[block1][code]")] = 0.75
    plan = search.decode(x)
    assert plan.params["block1"][1].weight == pytest.approx(1.5)
    assert plan.params["block1"][0].weight == 0.0
    assert plan.params["head"][2].density == pytest.approx(0.2)
    assert plan.grouping.group_of(TensorPlace(3, "mlp")) == "block1"


def test_unsearched_parameters_are_fixed_and_options_pass_through():
    search = SearchSpace(space(method="task_arithmetic", parameters={"weight": [0, 1.5]},
                               options={"lambda": 0.5}), SOURCES, 2)
    plan = search.decode(torch.full((3,), 0.5, dtype=torch.float64))
    assert [p.density for p in plan.params["all"]] == [1.0, 1.0, 1.0]
    assert [p.weight for p in plan.params["all"]] == [0.75] * 3
    assert plan.options["lambda"] == 0.5


def test_categorical_method_equal_width_bins():
    search = SearchSpace(space(method=["task_arithmetic", "ties", "dare_ties"],
                               parameters={"weight": [0, 1], "density": [0.5, 1]}), SOURCES, 2)
    assert search.parameter_names[0] == "method"
    rest = torch.full((search.dim - 1,), 0.5, dtype=torch.float64)
    decoded = [search.decode(torch.cat([torch.tensor([v], dtype=torch.float64), rest])).method
               for v in (0.0, 0.33, 0.34, 0.66, 0.67, 1.0)]
    assert decoded == ["task_arithmetic", "task_arithmetic", "ties", "ties", "dare_ties", "dare_ties"]
    plan = search.decode(torch.cat([torch.tensor([0.5], dtype=torch.float64), rest]))
    assert search.encode(plan)[0] == pytest.approx(0.5)  # centre of the "ties" bin


def test_blocks_larger_than_layers_is_refused_naming_field():
    with pytest.raises(ConfigError, match=r"space\.granularity\.blocks"):
        SearchSpace(space(method="ties", granularity={"blocks": 8}, parameters={"weight": [0, 1]}), SOURCES, 3)


@pytest.mark.parametrize("method", ["linear", "task_arithmetic"])
def test_density_with_method_that_ignores_it_is_refused(method):
    with pytest.raises(ConfigError, match=r"space\.parameters\.density"):
        SearchSpace(space(method=method, parameters={"weight": [0, 1], "density": [0.1, 1]}), SOURCES, 2)


def test_slerp_needs_two_sources():
    with pytest.raises(ConfigError, match=r"space\.method.*two"):
        SearchSpace(space(method="slerp", parameters={"weight": [0, 1]}), SOURCES, 2)
    SearchSpace(space(method="slerp", parameters={"weight": [0, 1]}), SOURCES[:2], 2)


def test_group_missing_from_model_is_refused():
    config = space(method="ties", granularity="module", parameters={"weight": [0, 1]})
    places = {
        "model.embed_tokens.weight": TensorPlace(None, "embedding"),
        "model.layers.0.mlp.up_proj.weight": TensorPlace(0, "mlp"),
        "lm_head.weight": TensorPlace(None, "head"),
    }
    with pytest.raises(ConfigError, match=r"space\.granularity.*attention"):
        SearchSpace(config, SOURCES, layout=TensorLayout("llama", 1, "model.layers", places))
    places["model.layers.0.self_attn.q_proj.weight"] = TensorPlace(0, "attention")
    search = SearchSpace(config, SOURCES, layout=TensorLayout("llama", 1, "model.layers", places))
    assert search.grouping.group_names() == ("attention", "mlp", "other")


def test_layer_count_comes_from_the_layout():
    config = space(method="ties", granularity={"blocks": 3}, parameters={"weight": [0, 1]})
    places = {f"model.layers.{i}.mlp.up_proj.weight": TensorPlace(i, "mlp") for i in range(3)}
    places["model.embed_tokens.weight"] = TensorPlace(None, "embedding")
    places["model.norm.weight"] = TensorPlace(None, "norm")
    layout = TensorLayout("llama", 3, "model.layers", places)
    assert SearchSpace(config, SOURCES, layout=layout).grouping.num_layers == 3
    with pytest.raises(ConfigError, match="built for 4 decoder layers, the model has 3"):
        SearchSpace(config, SOURCES, 4, layout=layout)
    with pytest.raises(ConfigError, match="blocks: 3 blocks on a model with 2"):
        SearchSpace(config, SOURCES, layout=TensorLayout("llama", 2, "model.layers", places))


def test_decode_clips_and_checks_length():
    search = SearchSpace(space(method="task_arithmetic", parameters={"weight": [0.5, 1.5]}), SOURCES, 2)
    plan = search.decode(torch.tensor([-0.2, 1.3, 0.5]))
    assert [p.weight for p in plan.params["all"]] == [0.5, 1.5, 1.0]
    with pytest.raises(ConfigError, match="3 coordinates"):
        search.decode(torch.zeros(4))


def test_encode_refuses_points_outside_space_and_values_broadcast():
    search = SearchSpace(space(method="dare_ties", granularity={"blocks": 2},
                               parameters={"weight": [0, 1.5], "density": [0.1, 1]}), SOURCES, 4)
    recipe = MergePlan.uniform("dare_ties", SOURCES, weight=1.0, density=0.5)
    values = search.values(recipe)
    assert values["weight[block1][chat]"] == 1.0 and values["density[head][math]"] == 0.5
    assert search.encode(recipe)[search.parameter_names.index("weight[embed][code]")] == pytest.approx(1 / 1.5)
    assert search.try_encode(MergePlan.uniform("ties", SOURCES)) is None
    with pytest.raises(ConfigError, match="outside its bounds"):
        search.encode(MergePlan.uniform("dare_ties", SOURCES, weight=2.0))
    fixed = SearchSpace(space(method="task_arithmetic", parameters={"weight": [0, 1]}), SOURCES, 2)
    with pytest.raises(ConfigError, match="density=0.5"):
        fixed.encode(MergePlan.uniform("task_arithmetic", SOURCES, density=0.5))
    assert all(math.isnan(v) for v in fixed.values(MergePlan.uniform("task_arithmetic", ("a", "b", "c"))).values())
