import json

import pytest

from mmmo.errors import MergeError
from mmmo.plan import MergePlan, SourceParams, TensorGrouping
from mmmo.sources.layout import TensorPlace


def test_source_params_reject_out_of_range_density_and_nonfinite_weight():
    with pytest.raises(MergeError, match="density"):
        SourceParams(1.0, 0.0)
    with pytest.raises(MergeError, match="density"):
        SourceParams(1.0, 1.5)
    with pytest.raises(MergeError, match="weight"):
        SourceParams(float("nan"))


@pytest.mark.parametrize(
    "place, group",
    [
        (TensorPlace(None, "embedding"), "embed"),
        (TensorPlace(0, "attention"), "block0"),
        (TensorPlace(2, "mlp"), "block1"),
        (TensorPlace(3, "norm"), "block2"),
        (TensorPlace(5, "mlp"), "block3"),
        (TensorPlace(None, "norm"), "head"),
        (TensorPlace(None, "head"), "head"),
    ],
)
def test_blocks_grouping_splits_layers_into_contiguous_runs(place, group):
    assert TensorGrouping("blocks", num_layers=6, blocks=4).group_of(place) == group


def test_blocks_cover_every_layer_in_order():
    grouping = TensorGrouping("blocks", num_layers=7, blocks=3)
    blocks = [grouping.block_of_layer(i) for i in range(7)]
    assert blocks == sorted(blocks)
    assert set(blocks) == {0, 1, 2}


@pytest.mark.parametrize(
    "place, group",
    [
        (TensorPlace(1, "attention"), "attention"),
        (TensorPlace(1, "mlp"), "mlp"),
        (TensorPlace(1, "norm"), "other"),
        (TensorPlace(None, "embedding"), "other"),
        (TensorPlace(None, "head"), "other"),
    ],
)
def test_module_grouping(place, group):
    assert TensorGrouping("module").group_of(place) == group


def test_blocks_grouping_refuses_more_blocks_than_layers_and_unknown_layers():
    with pytest.raises(MergeError, match="blocks=5"):
        TensorGrouping("blocks", num_layers=3, blocks=5)
    with pytest.raises(MergeError, match="layer 9"):
        TensorGrouping("blocks", num_layers=3, blocks=3).group_of(TensorPlace(9, "mlp"))


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
    assert again.params_for(TensorPlace(0, "mlp"))[1] == SourceParams(1.2, 0.9)
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
