"""Per-layer plans decoded by the space reach the merged weights of their layer only."""

import pytest
import torch

from micro_models import save_micro_models
from mmmo.config import load_space
from mmmo.merge import Merger
from mmmo.search.space import SearchSpace
from mmmo.sources import ModelPool


@pytest.fixture(scope="module")
def merger(tmp_path_factory):
    root = tmp_path_factory.mktemp("layers")
    save_micro_models(root, num_layers=4)
    return Merger(ModelPool.load(root / "base", {"a": root / "a", "b": root / "b"}))


def merged_state(merger, space, x):
    merger.apply(space.decode(x))
    return {name: p.detach().clone() for name, p in merger.model.named_parameters()}


@pytest.mark.parametrize("preset, coordinate, touched", [
    ("dare_ties_layers", "weight[layer2][b]", ("model.layers.2.",)),
    ("ties_layers_module", "weight[layer1.mlp][a]", ("model.layers.1.mlp.",)),
])
def test_one_layer_weight_changes_only_that_layers_tensors(merger, preset, coordinate, touched):
    space = SearchSpace(load_space(preset), merger.pool.names, layout=merger.pool.layout)
    x = torch.full((space.dim,), 0.5, dtype=torch.float64)
    before = merged_state(merger, space, x)
    x[space.parameter_names.index(coordinate)] = 0.95
    after = merged_state(merger, space, x)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed, "the per-layer weight changed nothing"
    assert all(name.startswith(touched) for name in changed), sorted(changed)
    # Every tensor of that part of the layer moved (the norms of layer1 stay with its attention).
    expected = {name for name in before if name.startswith(touched)}
    assert changed == expected


def test_mergekit_config_of_a_per_layer_plan_gives_each_tensor_its_layers_weight(merger, tmp_path):
    from mmmo.merge.mergekit_config import group_filters, mergekit_config

    space = SearchSpace(load_space("ties_layers_module"), merger.pool.names, layout=merger.pool.layout)
    x = torch.linspace(0.05, 0.95, space.dim, dtype=torch.float64)
    plan = space.decode(x)
    layout = merger.pool.layout
    entries = group_filters(plan.grouping, layout)
    for name, place in layout.places.items():
        group = next(g for text, g in entries if text is None or text in name)
        assert group == plan.grouping.group_of(place), name
    config = mergekit_config(plan, tmp_path / "base", {"a": tmp_path / "a", "b": tmp_path / "b"}, layout=layout)
    weights = config["models"][0]["parameters"]["weight"]
    assert isinstance(weights, list) and len({entry["value"] for entry in weights}) > 2


@pytest.mark.parametrize("preset", ["dare_ties", "ties", "dare_ties_layers", "ties_layers_module", "task_arithmetic"])
def test_reference_trials_are_encoded_where_they_merge_to_the_same_weights(merger, preset):
    from mmmo.references import reference_trials

    space = SearchSpace(load_space(preset), merger.pool.names, layout=merger.pool.layout)
    anchors = [r for r in reference_trials(merger.pool.names) if r.kind in ("base", "source")]
    for reference in anchors:
        x = space.try_encode(reference.plan)
        assert x is not None, reference.label
        merger.apply(reference.plan)
        expected = {name: p.detach().clone() for name, p in merger.model.named_parameters()}
        got = merged_state(merger, space, x)
        assert all(torch.equal(expected[name], got[name]) for name in expected), reference.label


def test_a_plan_with_two_sources_or_partial_density_is_not_taken_for_another_method(merger):
    from mmmo.plan import MergePlan

    space = SearchSpace(load_space("dare_ties"), merger.pool.names, layout=merger.pool.layout)
    names = merger.pool.names
    # Two voters: TIES' sign election would change the merge, so no equivalent point.
    assert space.try_encode(MergePlan.uniform("task_arithmetic", names, [1.0, 1.0], 1.0)) is None
    assert space.try_encode(MergePlan.uniform("task_arithmetic", names, [0.5, 0.0], 1.0)) is None
    assert space.try_encode(MergePlan.uniform("linear", names, [1.0, 0.0], 1.0)) is None
    scaled = MergePlan.uniform("task_arithmetic", names, [1.0, 0.0], 1.0, options={"lambda": 0.5})
    assert space.try_encode(scaled) is None
