import pytest
import torch
from botorch.test_utils.mock import mock_optimize_context_manager

from mmmo.search.proposers.cost_aware import CostAwareRound
from mmmo.search.proposers.multi_fidelity import MultiFidelityProposer

from .test_multi_fidelity import EMPTY, history

REF = torch.tensor([0.0, 0.0], dtype=torch.float64)
# Capped optimisers: every code path, little cost (gen_candidates_torch is not mocked, so maxiter too).
SMALL = {"num_restarts": 2, "raw_samples": 16, "maxiter": 5, "mc_samples": 16}


def proposer(acquisition: str, schedule=(0.25, 1.0)) -> MultiFidelityProposer:
    return MultiFidelityProposer(list(schedule), seed=0, surrogate="input", acquisition=acquisition, **SMALL)


@pytest.mark.parametrize("acquisition", ["momf", "hvkg"])
def test_a_round_fills_every_slot_once_with_screens_and_promotions(acquisition):
    X, fidelity, Y, Yvar, promotable = history()
    with mock_optimize_context_manager():
        proposal = proposer(acquisition).propose(X, fidelity, Y, Yvar, X[:1], promotable, 3, ref_point=REF)
    assert proposal.model_based
    assert len(proposal.promote) + proposal.new.shape[0] == 3
    assert len(set(proposal.promote)) == len(proposal.promote) and all(promotable[r] for r in proposal.promote)
    assert proposal.new.shape[1] == 2 and ((proposal.new >= 0) & (proposal.new <= 1)).all()
    if proposal.new.shape[0] > 1:  # each chosen screen is pending for the next slot
        assert not torch.equal(proposal.new[0], proposal.new[1])


def test_each_action_is_valued_per_example_it_scores(monkeypatch):
    """A screen costs the first fidelity; a promotion only the examples it adds."""
    X, fidelity, Y, Yvar, promotable = history()
    fidelity[3:] = torch.tensor([0.25, 0.5, 0.25, 0.25, 0.25], dtype=torch.float64)
    only = torch.zeros(8, dtype=torch.bool)
    only[[3, 4]] = True  # promotions: 3 from 0.25 to 0.5 (cost 0.25), 4 from 0.5 to 1 (cost 0.5)
    p = proposer("momf", schedule=(0.25, 0.5, 1.0))
    round_ = p._cost_aware
    seen = {}

    def values(acquisition, actions, screen):
        seen["fidelities"] = actions[:, -1].tolist()
        return torch.tensor(raw, dtype=torch.float64)

    monkeypatch.setattr(round_, "_values", values)
    with mock_optimize_context_manager():
        raw = [1.0, 0.9, 1.9]  # per example: screen 4.0, promote 3 3.6, promote 4 3.8
        choice = round_.choose(_model(X, fidelity, Y), X, fidelity, Y, torch.ones(8, dtype=torch.bool), only,
                               EMPTY, 1, REF, p.next_fidelity)
        assert seen["fidelities"] == [0.25, 0.5, 1.0]  # the screen, then each promotion at its next fidelity
        assert choice.promote == () and choice.new.shape == (1, 2) and choice.values == pytest.approx((4.0,))
        raw = [1.0, 1.1, 1.9]  # promote 3: 4.4 per example
        choice = round_.choose(_model(X, fidelity, Y), X, fidelity, Y, torch.ones(8, dtype=torch.bool), only,
                               EMPTY, 1, REF, p.next_fidelity)
    assert choice.promote == (3,) and choice.new.shape == (0, 2) and choice.values == pytest.approx((4.4,))


def test_momf_values_a_point_more_at_a_higher_fidelity():
    """Its trust objective: where the scores do not depend on the fidelity, more examples are worth more."""
    X = torch.rand(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Y = torch.stack([X[:, 0], 1 - X[:, 0] * X[:, 1]], dim=-1)
    fidelity = torch.tensor([0.25, 1.0] * 6, dtype=torch.float64)
    round_ = proposer("momf")._cost_aware
    inputs = torch.cat([X, fidelity[:, None]], -1)
    acquisition = round_._acquisition(_model(X, fidelity, Y), inputs, Y, REF, torch.zeros(0, 3), 2)
    with torch.no_grad():
        low, high = (float(acquisition(torch.tensor([[[0.9, 0.2, s]]], dtype=torch.float64))) for s in (0.25, 1.0))
    assert high > low > 0


def test_a_point_in_flight_is_worth_less_to_screen_again():
    X, fidelity, Y, Yvar, promotable = history()
    round_ = proposer("momf")._cost_aware
    model, inputs = _model(X, fidelity, Y), torch.cat([X, fidelity[:, None]], -1)
    point = torch.tensor([[0.6, 0.6, 0.25]], dtype=torch.float64)
    with torch.no_grad():
        free = float(round_._acquisition(model, inputs, Y, REF, torch.zeros(0, 3), 2)(point[None]))
        taken = float(round_._acquisition(model, inputs, Y, REF, point, 2)(point[None]))
    assert taken < 0.5 * free


def test_cost_aware_acquisitions_need_the_fidelity_as_an_input():
    with pytest.raises(ValueError, match="needs surrogate 'input'"):
        MultiFidelityProposer([0.25, 1.0], acquisition="momf")
    with pytest.raises(ValueError, match="acquisition must be one of"):
        MultiFidelityProposer([0.25, 1.0], surrogate="input", acquisition="kg")
    with pytest.raises(ValueError, match="acquisition must be one of"):
        CostAwareRound("nehvi", (0.25, 1.0), proposer("momf")._qlognehvi)


def _model(X, fidelity, Y):
    from mmmo.search.proposers.gp import surrogate

    return surrogate(torch.cat([X, fidelity[:, None]], dim=-1), Y)
