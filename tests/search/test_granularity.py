import pytest
import torch

from mmmo.config import ConfigError, Granularity, SpaceConfig, load_space
from mmmo.plan import TensorGrouping
from mmmo.search.granularity import coarsening, grouping_of
from mmmo.search.space import SearchSpace
from mmmo.sources.layout import TensorPlace

SOURCES = ("math", "code", "chat")


def space(**fields) -> SpaceConfig:
    return SpaceConfig.model_validate(fields)


@pytest.mark.parametrize(
    "text, kind, blocks, by_module",
    [
        ("layer", "layer", 1, False),
        ("layer x module", "layer", 1, True),
        ("blocks:4", "blocks", 4, False),
        ("blocks:3 x module", "blocks", 3, True),
        ("module", "module", 1, False),
    ],
)
def test_granularity_shorthand(text, kind, blocks, by_module):
    parsed = Granularity.model_validate(text)
    assert (parsed.kind, parsed.blocks, parsed.by_module) == (kind, blocks, by_module)
    assert parsed.label == text


@pytest.mark.parametrize("text", ["module x module", "model x module", "layers", "blocks", "layer x mlp"])
def test_granularity_shorthand_refuses_unknown_forms(text):
    with pytest.raises(ValueError, match="granularity|splits layers or blocks"):
        Granularity.model_validate(text)


def test_layer_grouping_names_and_places():
    grouping = TensorGrouping("layer", num_layers=3)
    assert grouping.group_names() == ("embed", "layer0", "layer1", "layer2", "head")
    assert grouping.group_of(TensorPlace(2, "mlp")) == "layer2"
    assert grouping.group_of(TensorPlace(1, "norm")) == "layer1"
    assert grouping.group_of(TensorPlace(None, "norm")) == "head"
    split = TensorGrouping("layer", num_layers=3, by_module=True)
    assert len(split.group_names()) == 2 + 2 * 3
    assert split.group_of(TensorPlace(1, "mlp")) == "layer1.mlp"
    assert split.group_of(TensorPlace(1, "norm")) == "layer1.attention"
    blocks = TensorGrouping("blocks", num_layers=4, blocks=2, by_module=True)
    assert blocks.group_of(TensorPlace(3, "attention")) == "block1.attention"
    assert TensorGrouping.from_dict(split.to_dict()) == split
    assert "by_module" not in TensorGrouping("blocks", num_layers=4, blocks=2).to_dict()


def test_coarsening_maps_fine_groups_and_refuses_crossing_ones():
    fine = TensorGrouping("layer", num_layers=4, by_module=True)
    to_blocks = coarsening(fine, TensorGrouping("blocks", num_layers=4, blocks=2), "f")
    assert to_blocks["layer3.mlp"] == "block1" and to_blocks["embed"] == "embed"
    to_model = coarsening(fine, TensorGrouping("model"), "f")
    assert set(to_model.values()) == {"all"}
    # A layer's norms sit in its attention group here, in "other" under module granularity.
    with pytest.raises(ConfigError, match="'layer0.attention' spans \\['attention', 'other'\\]"):
        coarsening(fine, TensorGrouping("module"), "f")
    with pytest.raises(ConfigError, match="space.parameters.density.granularity.*'layer0' spans"):
        coarsening(TensorGrouping("layer", num_layers=4), TensorGrouping("module"),
                   "space.parameters.density.granularity")
    with pytest.raises(ConfigError, match="not a coarsening"):
        coarsening(TensorGrouping("blocks", num_layers=4, blocks=2), TensorGrouping("layer", num_layers=4), "f")


def test_presets_reach_their_dimensions_on_eight_layers():
    layers = SearchSpace(load_space("dare_ties_layers"), SOURCES, num_layers=8)
    assert layers.dim == 2 * 3 * (8 + 2) >= 48
    module = SearchSpace(load_space("ties_layers_module"), SOURCES, num_layers=8)
    assert module.dim == 2 * 3 * (2 * 8 + 2) >= 96
    assert "108 dimensions" in module.describe()


def test_shared_density_one_value_per_source_beside_per_layer_weights():
    search = SearchSpace(load_space("dare_ties_layer_weights"), SOURCES, num_layers=4)
    assert search.dim == 3 * 6 + 3
    assert search.parameter_names[-3:] == ("density[all][math]", "density[all][code]", "density[all][chat]")
    x = torch.rand(search.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[search.parameter_names.index("density[all][code]")] = 1.0
    x[search.parameter_names.index("weight[layer2][chat]")] = 0.0
    plan = search.decode(x)
    assert plan.grouping.kind == "layer"
    assert {plan.params[g][1].density for g in plan.grouping.group_names()} == {1.0}
    assert len({plan.params[g][0].density for g in plan.grouping.group_names()}) == 1
    assert plan.params["layer2"][2].weight == 0.0 and plan.params["layer1"][2].weight > 0.0
    assert torch.allclose(search.encode(plan), x, atol=1e-12)


def test_plan_that_breaks_a_shared_value_is_not_a_point():
    search = SearchSpace(load_space("dare_ties_layer_weights"), SOURCES, num_layers=4)
    plan = search.decode(torch.full((search.dim,), 0.5, dtype=torch.float64)).to_dict()
    plan["params"]["layer1"][0]["density"] = 0.9
    from mmmo.plan import MergePlan

    with pytest.raises(ConfigError, match="shares one value"):
        search.encode(MergePlan.from_dict(plan))
    assert search.try_encode(MergePlan.from_dict(plan)) is None


def test_conflicting_shared_parameter_is_refused_at_load_naming_field():
    config = space(method="dare_ties", granularity="layer",
                   parameters={"weight": [0, 1], "density": {"low": 0.1, "high": 1.0, "granularity": "module"}})
    with pytest.raises(ConfigError, match=r"space.parameters.density.granularity: 'module' is not a coarsening"):
        SearchSpace(config, SOURCES, num_layers=4)
    finer = space(method="dare_ties", granularity={"blocks": 2},
                  parameters={"weight": {"low": 0, "high": 1, "granularity": "layer"}})
    with pytest.raises(ConfigError, match="space.parameters.weight.granularity"):
        SearchSpace(finer, SOURCES, num_layers=4)


def test_shared_blocks_parameter_with_more_blocks_than_layers_is_refused():
    config = space(method="ties", granularity="layer",
                   parameters={"weight": {"low": 0, "high": 1, "granularity": "blocks:9"}})
    with pytest.raises(ConfigError, match="space.parameters.weight.granularity: 9 blocks .* 4 decoder layers"):
        SearchSpace(config, SOURCES, num_layers=4)


def test_method_choice_is_categorical_at_bin_centres():
    search = SearchSpace(space(method=["ties", "dare_ties"], granularity="layer",
                               parameters={"weight": [0, 1], "density": [0.2, 1]}), SOURCES, 2)
    assert search.categorical == {0: (0.25, 0.75)}
    for index, method in enumerate(("ties", "dare_ties")):
        x = torch.full((search.dim,), 0.5, dtype=torch.float64)
        x[0] = search.categorical[0][index]
        plan = search.decode(x)
        assert plan.method == method
        assert search.encode(plan)[0].item() == search.categorical[0][index]
    assert SearchSpace(load_space("ties"), SOURCES, 2).categorical == {}


def test_grouping_of_names_field_for_blocks():
    with pytest.raises(ConfigError, match="space.granularity.blocks: 5 blocks"):
        grouping_of(Granularity.model_validate("blocks:5"), 4, "space.granularity.blocks")
