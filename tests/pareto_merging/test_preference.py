import math

import numpy as np
import pytest
import torch

from mmmo.errors import MergeError
from mmmo.pareto_merging.preference import check_preference, sample_preferences, simplex_grid

TASKS = ("reverse", "sort", "count")


def test_check_preference_normalises_sequences_tensors_and_mappings():
    expected = torch.tensor([0.5, 0.25, 0.25])
    assert torch.allclose(check_preference([2, 1, 1], TASKS), expected)
    assert torch.allclose(check_preference(torch.tensor([2.0, 1.0, 1.0]), TASKS), expected)
    # Mapping order does not matter: weights follow the task order.
    assert torch.allclose(check_preference({"count": 1, "reverse": 2, "sort": 1}, TASKS), expected)


@pytest.mark.parametrize(
    ("preference", "message"),
    [
        ([0.5, 0.5], "has 2 weights, but there are 3 tasks"),
        ([0.5, -0.1, 0.6], "task 'sort' is negative"),
        ([0.0, 0.0, 0.0], "sum to zero"),
        ([0.2, float("nan"), 0.3], "task 'sort' is not finite"),
        ([0.2, "x", 0.3], "task 'sort' is not a number"),
        ({"reverse": 1.0, "sort": 1.0, "math": 1.0}, "unknown: ['math']; missing: ['count']"),
        ([[0.2, 0.3, 0.5]], "flat vector"),
    ],
)
def test_check_preference_refuses_bad_input_naming_the_fault(preference, message):
    with pytest.raises(MergeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_preference(preference, TASKS)


def test_simplex_grid_is_the_full_lattice():
    grid = simplex_grid(3, 4)
    assert grid.shape == (math.comb(4 + 2, 2), 3)
    assert torch.allclose(grid.sum(dim=1), torch.ones(len(grid)))
    assert torch.allclose(grid * 4, (grid * 4).round())
    assert len({tuple(row.tolist()) for row in grid}) == len(grid)
    for corner in torch.eye(3):
        assert (grid == corner).all(dim=1).any()


def test_simplex_grid_refuses_empty_grids():
    with pytest.raises(MergeError, match="steps must be >= 1"):
        simplex_grid(3, 0)


def test_sample_preferences_are_seeded_points_of_the_simplex():
    a = sample_preferences(3, 100, 1.0, np.random.default_rng(7))
    b = sample_preferences(3, 100, 1.0, np.random.default_rng(7))
    assert a.shape == (100, 3)
    assert torch.equal(a, b)
    assert (a >= 0).all()
    assert torch.allclose(a.sum(dim=1), torch.ones(100))
    # Small concentration favours corners: the largest weight is near 1 more often.
    sparse = sample_preferences(3, 2000, 0.1, np.random.default_rng(0))
    dense = sample_preferences(3, 2000, 10.0, np.random.default_rng(0))
    assert sparse.max(dim=1).values.mean() > dense.max(dim=1).values.mean() + 0.3
