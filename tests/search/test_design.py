"""The initial design: the centre, the sources' subset merges, then Sobol points."""

import pytest
import torch

from mmmo.config import SpaceConfig, load_space
from mmmo.plan import MergePlan
from mmmo.search.proposers import make_proposer
from mmmo.search.proposers.design import InitialDesign, design_size, subset_merges
from mmmo.search.space import SearchSpace

EMPTY = torch.zeros(0, 6, dtype=torch.float64)


def space(preset="dare_ties", sources=("a", "b", "c")):
    return SearchSpace(load_space(preset), list(sources), num_layers=2)


def test_subset_merges_are_every_source_then_each_pair_at_weight_one_and_full_density():
    s = space()
    plans = [s.decode(x) for x in subset_merges(s)]
    weights = [[round(p.weight, 9) for p in plan.params["all"]] for plan in plans]
    assert weights == [[1, 1, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]]
    assert all(p.density == pytest.approx(1.0) for plan in plans for p in plan.params["all"])


def test_subset_merges_fit_finer_spaces_and_large_source_counts():
    layers = space("dare_ties_layers")
    per_layer = [layers.decode(x) for x in subset_merges(layers)]
    # The same merge in every layer group.
    assert all(len({tuple(p.weight for p in ps) for ps in plan.params.values()}) == 1 for plan in per_layer)
    many = space(sources=tuple("abcdefg"))
    assert subset_merges(many).shape == (7, 14)  # all of them, then the six neighbouring pairs
    assert subset_merges(space(sources=("a",))).shape == (0, 2)


def test_subset_merges_leave_out_points_outside_the_bounds():
    narrow = SpaceConfig.model_validate({"method": "dare_ties", "parameters": {"weight": [0.0, 0.8], "density": [0.1, 1.0]}})
    assert subset_merges(SearchSpace(narrow, ["a", "b", "c"], num_layers=2)).shape == (0, 6)


def test_design_opens_with_the_centre_and_anchors_then_continues_with_sobol():
    s = space()
    anchors = subset_merges(s)
    design = make_proposer("design", seed=3, anchors=anchors)
    first = design.propose(EMPTY, torch.zeros(0, 3), EMPTY, 3)
    assert torch.equal(first[0], torch.full((6,), 0.5, dtype=torch.float64))
    assert torch.equal(first[1:], anchors[:2])
    # Resumed with those three known (one still pending): the rest of the anchors, then Sobol.
    nxt = design.propose(first[:2], torch.zeros(2, 3), first[2:], 4)
    assert torch.equal(nxt[:2], anchors[2:])
    assert not any(torch.allclose(x, y) for x in nxt[2:] for y in torch.cat([first, anchors]))
    # The same call twice gives the same points: no state is kept.
    assert torch.equal(nxt, design.propose(first[:2], torch.zeros(2, 3), first[2:], 4))


def test_design_skips_planned_points_already_observed_and_centres_categories():
    design = InitialDesign(seed=0, categorical={0: (1 / 6, 0.5, 5 / 6)})
    centre = design.centre(4)
    assert centre.tolist() == [0.5, 0.5, 0.5, 0.5]
    assert InitialDesign(categorical={0: (0.25, 0.75)}).centre(3).tolist() == [0.25, 0.5, 0.5]
    out = design.propose(centre.unsqueeze(0), torch.zeros(1, 2), torch.zeros(0, 4), 2)
    assert not any(torch.allclose(x, centre) for x in out)


@pytest.mark.parametrize("initial, observed, planned, expected", [
    (8, 0, 1, 8),   # no reference is a point of the space: the whole design
    (8, 5, 1, 3),   # references count toward it
    (8, 5, 5, 5),   # but the planned points are always evaluated
    (8, 9, 1, 1),   # the centre at least
    (2, 0, 5, 2),   # never more than asked for
    (0, 5, 5, 0),   # no design at all
])
def test_design_size(initial, observed, planned, expected):
    assert design_size(initial, observed, planned) == expected


def test_a_merged_pair_decodes_to_the_plan_it_stands_for():
    s = space()
    plan = MergePlan.uniform("dare_ties", ["a", "b", "c"], [1.0, 1.0, 0.0], 1.0, options={"normalize": False})
    assert torch.equal(s.encode(plan), subset_merges(s)[1])


def test_a_finer_space_draws_its_sobol_points_on_the_model_level_subspace():
    layers = space("dare_ties_layers")  # 2 layers: 4 groups x 3 sources x 2 = 24 coordinates
    ties = layers.coarse_ties
    empty = torch.zeros(0, layers.dim, dtype=torch.float64)
    points = make_proposer("design", seed=1, ties=ties).propose(empty, torch.zeros(0, 3), empty, 4)[1:]
    assert torch.equal(points, points[:, :6][:, list(ties)])  # every group of a source at the source's value
    # The same Sobol points as the model-level space's, lifted.
    coarse = make_proposer("design", seed=1).propose(EMPTY, torch.zeros(0, 3), EMPTY, 4)[1:]
    assert torch.equal(points[:, :6], coarse)
