"""coarse_to_fine: model-level subspace first, trust regions around the front after (mmmo.search.proposers)."""

import pytest
import torch
from botorch.test_utils.mock import mock_optimize_context_manager

from mmmo.config import SpaceConfig, load_space
from mmmo.search.proposers import make_proposer
from mmmo.search.proposers.coarse_to_fine import CoarseToFineProposer, front_centres, on_subspace
from mmmo.search.space import SearchSpace

CHEAP = {"num_restarts": 2, "raw_samples": 16, "mc_samples": 8}
SOURCES = ["a", "b", "c"]


def model_level(config: SpaceConfig) -> SpaceConfig:
    """The same space at model granularity (every parameter's own granularity dropped)."""
    params = {name: bounds.model_copy(update={"granularity": None}) for name, bounds in config.parameters.items()}
    return config.model_copy(update={"granularity": load_space("dare_ties").granularity, "parameters": params})


@pytest.mark.parametrize("preset", ["dare_ties_layers", "ties_layers_module", "dare_ties_layer_weights"])
def test_a_model_level_point_lifted_by_the_ties_decodes_to_the_same_merge(preset):
    fine = SearchSpace(load_space(preset), SOURCES, num_layers=8)
    coarse = SearchSpace(model_level(load_space(preset)), SOURCES, num_layers=8)
    assert max(fine.coarse_ties) + 1 == coarse.dim == 6
    z = torch.rand(coarse.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fine_plan, coarse_plan = fine.decode(z[list(fine.coarse_ties)]), coarse.decode(z)
    assert all(params == coarse_plan.params["all"] for params in fine_plan.params.values())


def test_the_method_choice_is_tied_to_itself():
    config = load_space("dare_ties_layers").model_copy(update={"method": ["ties", "dare_ties"]})
    space = SearchSpace(config, SOURCES, num_layers=2)
    assert space.coarse_ties[0] == 0 and space.coarse_ties.count(0) == 1


def problem(n=14, d=12, seed=0):
    """Two conflicting objectives of the coordinates' means over two halves (``d`` coordinates)."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=torch.float64)
    return X, objectives(X)


def objectives(X):
    half = X.shape[-1] // 2
    return torch.stack([X[:, :half].mean(-1) - X[:, half:].mean(-1) ** 2, X[:, half:].mean(-1) - X[:, :half].mean(-1) ** 2], -1)


TIES = tuple(range(6)) * 2  # 12 coordinates, two groups of 6 sharing the model-level values


def test_coarse_stage_is_model_level_qlognehvi_on_the_tied_points():
    X, Y = problem()
    X[:10, 6:] = X[:10, :6]  # ten points of the subspace, four off it
    proposer = make_proposer("coarse_to_fine", seed=0, ties=TIES, coarse_trials=20, **CHEAP)
    with mock_optimize_context_manager():
        candidates = proposer.propose(X, Y, torch.zeros(0, 12).double(), 3)
        alone = make_proposer("qlognehvi", seed=0, **CHEAP).propose(X[:10, :6], Y[:10], torch.zeros(0, 6).double(), 3)
    assert candidates.shape == (3, 12)
    assert torch.equal(candidates[:, :6], candidates[:, 6:])
    assert torch.allclose(candidates[:, :6], alone)
    assert len({tuple(c.tolist()) for c in candidates}) == 3  # each earlier one pending


def test_fine_stage_stays_within_the_trust_region_of_a_front_point():
    X, Y = problem(n=20)
    proposer = make_proposer("coarse_to_fine", seed=0, ties=TIES, coarse_trials=20, trust_length=0.2,
                             recombinations=0, **CHEAP)
    assert proposer.stage(20) == "fine" and proposer.stage(19) == "coarse"
    with mock_optimize_context_manager():
        candidates = proposer.propose(X, Y, torch.zeros(0, 12).double(), 2)
    centres = front_centres(X, Y, torch.tensor([-2.0, -2.0], dtype=torch.float64))
    for i, candidate in enumerate(candidates):
        assert (candidate - centres[i % len(centres)]).abs().max() <= 0.1 + 1e-9
    assert not torch.equal(candidates[:, :6], candidates[:, 6:])  # free of the ties


def test_front_centres_are_the_pareto_points_largest_contribution_first():
    X = torch.arange(5, dtype=torch.float64).reshape(5, 1)
    Y = torch.tensor([[1.0, 0.0], [0.9, 0.9], [0.0, 1.0], [0.5, 0.5], [0.2, 0.97]], dtype=torch.float64)
    centres = front_centres(X, Y, torch.full((2,), -0.1, dtype=torch.float64))
    # Contributions 0.01, 0.81 + ..., 0.003, dominated, 0.014.
    assert centres.reshape(-1).tolist() == [1.0, 4.0, 0.0, 2.0]


def test_the_categorical_method_keeps_its_categories_in_both_stages():
    ties = (0,) + tuple(range(1, 4)) * 2
    categories = (0.25, 0.75)
    X, _ = problem(n=14, d=7)
    X[:, 0] = torch.where(X[:, 0] < 0.5, 0.25, 0.75)
    Y = objectives(X[:, 1:])
    proposer = make_proposer("coarse_to_fine", seed=0, ties=ties, categorical={0: categories}, coarse_trials=14,
                             **CHEAP)
    X[:8, 4:] = X[:8, 1:4]  # eight points of the subspace
    with mock_optimize_context_manager():
        fine = proposer.propose(X, Y, torch.zeros(0, 7).double(), 2)
        proposer.coarse_trials = 100
        coarse = proposer.propose(X, Y, torch.zeros(0, 7).double(), 2)
    assert set(fine[:, 0].tolist()) <= set(categories) and set(coarse[:, 0].tolist()) <= set(categories)
    assert torch.equal(coarse[:, 1:4], coarse[:, 4:])


def test_on_subspace_tells_tied_rows():
    X = torch.tensor([[0.1, 0.2, 0.1, 0.2], [0.1, 0.2, 0.3, 0.2]], dtype=torch.float64)
    assert on_subspace(X, (0, 1, 0, 1)).tolist() == [True, False]
    assert on_subspace(X, (0, 1, 2, 3)).tolist() == [True, True]


def test_ties_that_skip_a_coarse_coordinate_or_do_not_fit_the_space_are_refused():
    with pytest.raises(ValueError, match="every coarse coordinate"):
        CoarseToFineProposer(ties=(0, 2, 2))
    with pytest.raises(ValueError, match="categorical coordinate 0"):
        CoarseToFineProposer(ties=(0, 0, 1), categorical={0: (0.25, 0.75)})
    X, Y = problem()
    with pytest.raises(ValueError, match="ties has 6 coordinates, the space 12"):
        CoarseToFineProposer(ties=tuple(range(6)), **CHEAP).propose(X, Y, torch.zeros(0, 12).double(), 1)


def test_make_proposer_gives_ties_only_to_proposers_that_name_them():
    assert make_proposer("coarse_to_fine", ties=TIES).ties == TIES
    make_proposer("qlognehvi", ties=TIES)  # ignored, not an error
    auto = make_proposer("auto", ties=TIES, **CHEAP)
    X, Y = problem()
    X[:, 6:] = X[:, :6]
    with mock_optimize_context_manager():
        auto.propose(X, Y, torch.zeros(0, 12).double(), 1)
    assert auto._chosen["coarse_to_fine"].ties == TIES


def test_recombinations_take_each_coordinate_from_one_of_two_distinct_parents():
    from mmmo.search.proposers.coarse_to_fine import recombinations

    parents = torch.tensor([[0.0] * 8, [1.0] * 8, [0.5] * 8], dtype=torch.float64)
    children = recombinations(parents, 64, torch.Generator().manual_seed(0))
    assert children.shape == (64, 8)
    for child in children:
        values = set(child.tolist())
        assert len(values) <= 2 and values <= {0.0, 1.0, 0.5}
    assert any(len(set(c.tolist())) == 2 for c in children)  # mixes, not copies
    assert recombinations(parents[:1], 8, torch.Generator()).shape == (0, 8)

