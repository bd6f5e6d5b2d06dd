import pytest
import torch
from botorch.test_utils.mock import mock_optimize_context_manager

from mmmo.search.proposers.multi_fidelity import MultiFidelityProposer

EMPTY = torch.zeros(0, 2, dtype=torch.float64)


def history():
    """Three full-fidelity points on a front and five screens: two that could join it, three that could not."""
    X = torch.tensor([[0.1, 0.9], [0.5, 0.5], [0.9, 0.1],
                      [0.3, 0.7], [0.7, 0.3], [0.2, 0.2], [0.15, 0.25], [0.25, 0.15]], dtype=torch.float64)
    fidelity = torch.tensor([1.0, 1.0, 1.0, 0.25, 0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    Y = torch.tensor([[0.1, 0.9], [0.5, 0.5], [0.9, 0.1],
                      [0.75, 0.75], [0.8, 0.8], [0.05, 0.05], [0.04, 0.06], [0.06, 0.04]], dtype=torch.float64)
    Yvar = torch.where(fidelity[:, None] < 1, torch.full_like(Y, 1e-4), torch.full_like(Y, 1e-5))
    promotable = fidelity < 1
    return X, fidelity, Y, Yvar, promotable


def test_contenders_are_promoted_and_the_hopeless_are_not():
    X, fidelity, Y, Yvar, promotable = history()
    proposer = MultiFidelityProposer([0.25, 1.0], seed=0, beta=1.0, eta=2, num_restarts=2, raw_samples=16)
    with mock_optimize_context_manager():
        proposal = proposer.propose(X, fidelity, Y, Yvar, EMPTY, promotable, 4,
                                    ref_point=torch.tensor([0.0, 0.0], dtype=torch.float64))
    assert proposal.model_based
    assert set(proposal.promote) == {3, 4}
    assert proposal.new.shape == (2, 2) and proposal.new.min() >= 0 and proposal.new.max() <= 1


def test_at_most_one_in_eta_screens_is_promoted_the_largest_raise_first():
    X, fidelity, Y, Yvar, promotable = history()
    proposer = MultiFidelityProposer([0.25, 1.0], seed=0, beta=1.0, eta=3, num_restarts=2, raw_samples=16)
    ref = torch.tensor([0.0, 0.0], dtype=torch.float64)
    with mock_optimize_context_manager():
        first = proposer.propose(X, fidelity, Y, Yvar, EMPTY, promotable, 2, ref_point=ref)
        assert first.promote == (4,)  # 5 screens: a quota of 1; (0.8, 0.8) raises the front most
        promotable[4] = False
        assert proposer.propose(X, fidelity, Y, Yvar, EMPTY, promotable, 2, ref_point=ref).promote == ()


def test_a_gp_over_point_and_fidelity_proposes_at_full_fidelity():
    X, fidelity, Y, Yvar, promotable = history()
    proposer = MultiFidelityProposer([0.25, 1.0], seed=0, surrogate="input", num_restarts=2, raw_samples=16)
    with mock_optimize_context_manager():
        proposal = proposer.propose(X, fidelity, Y, Yvar, X[:1], torch.zeros(8, dtype=torch.bool), 2,
                                    ref_point=torch.tensor([0.0, 0.0], dtype=torch.float64))
    assert proposal.promote == () and proposal.new.shape == (2, 2)
    assert proposal.new.min() >= 0 and proposal.new.max() <= 1 and not torch.equal(proposal.new[0], proposal.new[1])


def test_promotions_fill_the_slots_first_and_respect_the_mask():
    X, fidelity, Y, Yvar, promotable = history()
    promotable[4] = False  # already promoted
    proposer = MultiFidelityProposer([0.25, 1.0], seed=0, eta=2, num_restarts=2, raw_samples=16)
    with mock_optimize_context_manager():
        proposal = proposer.propose(X, fidelity, Y, Yvar, EMPTY, promotable, 1,
                                    ref_point=torch.tensor([0.0, 0.0], dtype=torch.float64))
    assert proposal.promote == (3,) and proposal.new.shape == (0, 2)


def test_halving_promotes_the_top_third_of_each_rung():
    X = torch.rand(7, 2, dtype=torch.float64)
    fidelity = torch.tensor([0.25] * 6 + [1.0], dtype=torch.float64)
    Y = torch.tensor([[0.1, 0.1], [0.9, 0.9], [0.2, 0.2], [0.8, 0.7], [0.3, 0.3], [0.0, 0.0], [0.5, 0.5]],
                     dtype=torch.float64)
    promotable = fidelity < 1
    proposer = MultiFidelityProposer([0.25, 1.0], seed=0, promote="halving", eta=3)
    proposal = proposer.propose(X, fidelity, Y, torch.full_like(Y, 0.01), EMPTY, promotable, 3)
    assert proposal.promote == (1, 3) and proposal.new.shape == (1, 2) and not proposal.model_based
    promotable[1] = False  # promoted already: its rung place is not taken by the next one
    again = proposer.propose(X, fidelity, Y, torch.full_like(Y, 0.01), EMPTY, promotable, 3)
    assert again.promote == (3,)


def test_before_a_model_halving_skips_screens_the_full_front_beats():
    X = torch.rand(5, 2, dtype=torch.float64)
    fidelity = torch.tensor([1.0, 0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    Y = torch.tensor([[0.9, 0.9], [0.5, 0.5], [0.95, 0.1], [0.1, 0.1], [0.05, 0.05]], dtype=torch.float64)
    proposer = MultiFidelityProposer([0.25, 1.0], seed=0, eta=2)
    proposal = proposer.propose(X, fidelity, Y, torch.full_like(Y, 0.01), EMPTY, fidelity < 1, 2,
                                model_based=False)
    # The rung's top half by non-dominated rank is trials 1 and 2; 1 is beaten by the full trial 0.
    assert proposal.promote == (2,)


def test_new_screening_points_continue_the_sobol_design_past_promotions():
    proposer = MultiFidelityProposer([0.5, 1.0], seed=3)
    X = proposer.propose(EMPTY, torch.zeros(0), torch.zeros(0, 2), torch.zeros(0, 2), EMPTY,
                         torch.zeros(0, dtype=torch.bool), 3, model_based=False).new
    # One screened and promoted point: the design goes on after the one screen.
    fidelity = torch.tensor([0.5, 1.0], dtype=torch.float64)
    Y = torch.tensor([[0.1, 0.2], [0.1, 0.2]], dtype=torch.float64)
    more = proposer.propose(X[[0, 0]], fidelity, Y, torch.full_like(Y, 0.01), EMPTY,
                            torch.zeros(2, dtype=torch.bool), 2, model_based=False).new
    assert torch.equal(more, X[1:3])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="promote must be"):
        MultiFidelityProposer([1.0], promote="greedy")
    with pytest.raises(ValueError, match="surrogate must be"):
        MultiFidelityProposer([1.0], surrogate="kg")


def test_the_design_goes_on_from_the_screens_counted_not_from_what_is_in_flight():
    """References and promotions in flight are pending points but not design points."""
    proposer = MultiFidelityProposer([0.5, 1.0], seed=3)
    none = torch.zeros(0, dtype=torch.bool)
    design = proposer.propose(EMPTY, torch.zeros(0), torch.zeros(0, 2), torch.zeros(0, 2), EMPTY, none, 3,
                              model_based=False).new
    references_in_flight = torch.rand(2, 2, dtype=torch.float64)
    after_one = proposer.propose(EMPTY, torch.zeros(0), torch.zeros(0, 2), torch.zeros(0, 2), references_in_flight,
                                 none, 2, model_based=False, screened=1).new
    assert torch.equal(after_one, design[1:3])
