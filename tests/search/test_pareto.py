import pytest
import torch

from mmmo.search.pareto import hypervolume, hypervolume_history, infer_ref_point, pareto_mask, to_maximization


def test_pareto_mask_keeps_non_dominated_and_skips_nan():
    Y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.4, 0.4], [float("nan"), 9.0], [1.0, 0.0]])
    assert pareto_mask(Y).tolist() == [True, True, True, False, False, True]
    assert pareto_mask(torch.zeros(0, 2)).shape == (0,)


def test_hypervolume_of_known_staircase():
    Y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-2.0, 3.0]], dtype=torch.float64)
    ref = torch.tensor([-1.0, -1.0], dtype=torch.float64)
    # Union of boxes [-1,1]x[-1,0], [-1,0]x[-1,1], [-1,0.5]x[-1,0.5]: 2 + 2 + 2.25 - 1 - 1.5 - 1.5 + 1
    assert hypervolume(Y, ref) == pytest.approx(3.25)
    assert hypervolume(Y[3:], ref) == 0.0  # below the reference point on one objective


def test_hypervolume_history_is_monotone_and_matches_prefixes():
    torch.manual_seed(0)
    Y = torch.rand(12, 3, dtype=torch.float64)
    Y[4] = float("nan")
    ref = torch.zeros(3, dtype=torch.float64)
    history = hypervolume_history(Y, ref)
    assert (history[1:] >= history[:-1]).all()
    for i in (0, 4, 11):
        assert history[i].item() == pytest.approx(hypervolume(Y[: i + 1], ref))


def test_infer_ref_point_is_min_minus_tenth_of_range():
    Y = torch.tensor([[0.2, -10.0], [0.6, -30.0], [float("nan"), 0.0]], dtype=torch.float64)
    assert infer_ref_point(Y).tolist() == pytest.approx([0.2 - 0.04, -30.0 - 2.0])
    flat = torch.tensor([[0.0, 5.0], [0.0, 5.0]], dtype=torch.float64)
    assert infer_ref_point(flat).tolist() == pytest.approx([-0.1, 4.5])
    with pytest.raises(ValueError, match="no complete"):
        infer_ref_point(torch.full((2, 2), float("nan")))


def test_to_maximization_negates_minimized_columns():
    Y = torch.tensor([[1.0, 2.0, 3.0]])
    assert to_maximization(Y, ["maximize", "minimize", "maximize"]).tolist() == [[1.0, -2.0, 3.0]]
