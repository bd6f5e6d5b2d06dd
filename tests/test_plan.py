import json

import pytest

from mmmo.errors import MergeError
from mmmo.plan import MergePlan, SourceParams, TensorGrouping


def test_source_params_reject_out_of_range_density_and_nonfinite_weight():
    with pytest.raises(MergeError, match="density"):
        SourceParams(1.0, 0.0)
    with pytest.raises(MergeError, match="density"):
        SourceParams(1.0, 1.5)
    with pytest.raises(MergeError, match="weight"):
        SourceParams(float("nan"))


@pytest.mark.parametrize(
    "name, group",
    [
        ("model.embed_tokens.weight", "embed"),
        ("model.layers.0.self_attn.q_proj.weight", "block0"),
        ("model.layers.2.mlp.up_proj.weight", "block1"),
        ("model.layers.3.input_layernorm.weight", "block2"),
        ("model.layers.5.mlp.down_proj.weight", "block3"),
        ("model.norm.weight", "head"),
        ("lm_head.weight", "head"),
    ],
)
def test_blocks_grouping_splits_layers_into_contiguous_runs(name, group):
    assert TensorGrouping("blocks", num_layers=6, blocks=4).group_of(name) == group


def test_blocks_cover_every_layer_in_order():
    grouping = TensorGrouping("blocks", num_layers=7, blocks=3)
    blocks = [grouping.block_of_layer(i) for i in range(7)]
    assert blocks == sorted(blocks)
    assert set(blocks) == {0, 1, 2}


@pytest.mark.parametrize(
    "name, group",
    [
        ("model.layers.1.self_attn.o_proj.weight", "attention"),
        ("model.layers.1.mlp.gate_proj.weight", "mlp"),
        ("model.layers.1.post_attention_layernorm.weight", "other"),
        ("model.embed_tokens.weight", "other"),
    ],
)
def test_module_grouping(name, group):
    assert TensorGrouping("module").group_of(name) == group


def test_blocks_grouping_refuses_more_blocks_than_layers_and_unknown_layers():
    with pytest.raises(MergeError, match="blocks=5"):
        TensorGrouping("blocks", num_layers=3, blocks=5)
    with pytest.raises(MergeError, match="layer 9"):
        TensorGrouping("blocks", num_layers=3, blocks=3).group_of("model.layers.9.mlp.up_proj.weight")


def test_plan_round_trips_through_json_and_is_immutable():
    grouping = TensorGrouping("module")
    plan = MergePlan(
        "dare_ties",
        ("math", "code"),
        {g: (SourceParams(0.7, 0.4), SourceParams(1.2, 0.9)) for g in grouping.group_names()},
        grouping,
        {"normalize": False},
        seed=3,
    )
    again = MergePlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert again.params_for("model.layers.0.mlp.up_proj.weight")[1] == SourceParams(1.2, 0.9)
    with pytest.raises(TypeError):
        plan.params["all"] = ()  # type: ignore[index]


def test_plan_refuses_missing_groups_and_wrong_source_count():
    with pytest.raises(MergeError, match="needs"):
        MergePlan("ties", ("a",), {"all": (SourceParams(1.0),)}, TensorGrouping("module"))
    with pytest.raises(MergeError, match="2 sources"):
        MergePlan("ties", ("a", "b"), {"all": (SourceParams(1.0),)})


def test_uniform_broadcasts_scalars():
    plan = MergePlan.uniform("ties", ["a", "b", "c"], weight=0.5, density=[0.2, 0.3, 0.4])
    assert [p.weight for p in plan.params["all"]] == [0.5, 0.5, 0.5]
    assert [p.density for p in plan.params["all"]] == [0.2, 0.3, 0.4]
